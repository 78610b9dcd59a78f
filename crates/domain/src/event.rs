//! Events: everything that can happen to a request, and what comes out of it.

use serde::{Deserialize, Serialize};

use crate::answer::Answer;
use crate::fee::Yen;
use crate::ground::{PaymentMethod, RefusalGround};
use crate::kind::DeliveryMethod;

/// How an officer answers a request on its merits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Granted in full.
    Fulfilled,
    /// Granted in part; the withheld part names its grounds.
    PartiallyFulfilled {
        /// Grounds for what was not granted.
        grounds: Vec<RefusalGround>,
    },
    /// No such data is held (該当なし).
    NoData,
    /// Answered in detail: item by item (Art. 33), a correction's result (Art. 34) or what was
    /// stopped or erased (Art. 35). The overall result follows from it; when nothing is
    /// granted it is a refusal and needs the explanation (Art. 36). Labels and texts travel
    /// separately and are stored with the request.
    Answered {
        /// Results and grounds.
        answer: Answer,
        /// Written to the subject; required when the answer comes to a refusal.
        explanation: String,
    },
}

/// Something that happens to a request. Events carry no personal data: free text written to
/// the subject is stored with the request, not in the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The subject followed the confirmation link.
    ConfirmEmail,
    /// A request entered by staff (post, counter, phone, the desk's mailbox) needs no
    /// confirmation link: the clerk records how the requester was confirmed instead.
    ConfirmRequester {
        /// How.
        how: ContactCheck,
    },
    /// The subject supplied the identity evidence the officer asked for.
    SubmitEvidence,
    /// The officer accepted the identity (and agency) evidence.
    ApproveIdentity,
    /// The officer needs more evidence; `missing` is shown to the subject.
    RequestMoreEvidence {
        /// What is missing, in words for the subject.
        missing: String,
    },
    /// Identity or agency could not be verified.
    RejectIdentity {
        /// Why, in words for the subject.
        reason: String,
    },
    /// A payment arrived.
    RecordPayment {
        /// Amount received.
        amount: Yen,
        /// How it was paid.
        method: PaymentMethod,
    },
    /// The officer started working on the request (ends the free-refund window).
    StartWork,
    /// The officer asks the subject to identify the data more precisely (Art. 37(2)).
    RequestInfo {
        /// The question, in words for the subject.
        question: String,
    },
    /// The subject answered the officer's question.
    ProvideInfo,
    /// The deadline is extended once, with notice (GDPR, CCPA).
    ExtendDeadline {
        /// Why, in words for the subject.
        reason: String,
    },
    /// The method the subject chose for a disclosure is impractical (very costly or otherwise
    /// difficult), so it is answered another way, and the subject is told why (Art. 33(2),
    /// (3)); or the subject asked for another method.
    ChangeDelivery {
        /// The method it will be answered by.
        to: DeliveryMethod,
        /// Why, in words for the subject.
        reason: String,
    },
    /// The request is answered on its merits.
    Complete(Outcome),
    /// The request is refused on statutory grounds.
    Refuse {
        /// At least one ground that applies to the request's kind.
        grounds: Vec<RefusalGround>,
        /// The explanation written to the subject (Art. 36).
        explanation: String,
    },
    /// The subject withdraws the request (or staff record a withdrawal made by post or phone).
    Withdraw,
    /// The subject did not act before the request's expiry.
    Expire,
    /// The subject's turn runs out soon: remind them once per waiting period.
    WarnExpiry,
    /// The service looked the subject up in the business's customer records (identity method
    /// `customer_record`). Sent by the system right after the address is confirmed.
    MatchCustomerRecord {
        /// What the lookup found.
        result: CustomerMatch,
    },
    /// Something worth recording that does not change the state.
    Record(AuditOnly),
}

/// How a clerk confirmed who sent a request that reached the business outside the web form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactCheck {
    /// A request form signed (and sealed) by the requester arrived by post.
    SignedForm,
    /// The requester came to the counter in person.
    InPerson,
    /// The clerk called back on the number the requester gave.
    CallBack,
    /// The requester answered the desk's reply from the address the request came from.
    ReplyMail,
}

impl ContactCheck {
    /// Every way, in the order the intake form lists them.
    pub const ALL: [ContactCheck; 4] = [
        ContactCheck::SignedForm,
        ContactCheck::InPerson,
        ContactCheck::CallBack,
        ContactCheck::ReplyMail,
    ];

    /// Stable identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactCheck::SignedForm => "signed_form",
            ContactCheck::InPerson => "in_person",
            ContactCheck::CallBack => "call_back",
            ContactCheck::ReplyMail => "reply_mail",
        }
    }

    /// Parses [`ContactCheck::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// In words.
    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (ContactCheck::SignedForm, false) => "署名のある請求書を郵便で受領",
            (ContactCheck::SignedForm, true) => "Signed request form received by post",
            (ContactCheck::InPerson, false) => "窓口で対面により受付",
            (ContactCheck::InPerson, true) => "Received in person at the counter",
            (ContactCheck::CallBack, false) => "申出の電話番号へ折り返して確認",
            (ContactCheck::CallBack, true) => "Called back on the number given",
            (ContactCheck::ReplyMail, false) => "請求元のメールアドレスへの返信で確認",
            (ContactCheck::ReplyMail, true) => "Confirmed by a reply to the sending address",
        }
    }
}

/// The result of a customer-record lookup. Carries no personal data: only whether it matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerMatch {
    /// E-mail, name and date of birth match one customer record: identity is proven.
    Matched,
    /// No record matches: an officer reviews documents instead.
    NotFound,
    /// An agent filed: the agent's identity and authority need documents, so no lookup.
    AgentFiled,
    /// The lookup failed (the source was unreachable): documents instead.
    Unavailable,
}

impl CustomerMatch {
    /// Stable identifier, used in the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerMatch::Matched => "matched",
            CustomerMatch::NotFound => "not_found",
            CustomerMatch::AgentFiled => "agent_filed",
            CustomerMatch::Unavailable => "unavailable",
        }
    }
}

/// Events that only leave a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum AuditOnly {
    /// Staff looked at the subject's data or documents.
    Viewed {
        /// What was viewed, e.g. `details` or `document:<id>`.
        target: String,
    },
    /// The subject downloaded a file.
    Downloaded {
        /// Which file.
        target: String,
    },
    /// An officer wrote an internal note.
    Note,
    /// The request was given to a staff member to work (`None`: to nobody).
    Assigned {
        /// The staff member's row id.
        assignee: Option<i64>,
    },
    /// The request cites an incident (Art. 35(5): a reportable breach involved the data).
    IncidentLinked {
        /// The incident's number (not personal data).
        number: String,
    },
    /// The subject uploaded a document.
    Uploaded {
        /// Which file (`document:<pid>`).
        target: String,
    },
    /// An officer attached a file to the answer.
    Attached {
        /// Which file (`document:<pid>`).
        target: String,
    },
    /// The paper answer was posted.
    Posted {
        /// The carrier's tracking number (not personal data).
        tracking: String,
    },
    /// A notice was posted as a letter to a requester without an e-mail address (or who
    /// also wants paper).
    LetterPosted {
        /// Which notice (`Mail::as_str`).
        letter: String,
        /// The carrier's tracking number, when it has one (not personal data).
        tracking: String,
    },
    /// A one-time code was sent to the subject.
    CodeSent,
    /// The subject entered the right code: a session for this request was opened.
    CodeAccepted,
    /// The subject's last wrong try locked the code.
    CodeLocked,
    /// A card payment was not accepted as the fee (wrong amount or currency, or a request
    /// not waiting for payment): kept for an officer to decide on.
    PaymentFlagged {
        /// Why (`FlagReason::as_str`).
        reason: String,
        /// How much arrived, in yen.
        amount: i64,
    },
    /// An officer ordered a flagged card payment sent back.
    FlaggedRefundOrdered {
        /// How much, in yen.
        amount: i64,
    },
    /// A card refund was accepted by the provider.
    RefundSent {
        /// How much, in yen.
        amount: i64,
    },
    /// An officer recorded an offline refund as paid back.
    RefundRecorded {
        /// How much, in yen.
        amount: i64,
        /// How it had been paid (`PaymentMethod::as_str`).
        method: String,
    },
    /// A document was deleted at the end of its retention period.
    DocumentDeleted {
        /// Which file (`document:<pid>`).
        target: String,
    },
    /// An officer asked the connectors to gather the subject's data (again).
    GatherRequested {
        /// How many systems will be read.
        systems: u32,
    },
    /// A connector read the subject's rows in one system: counts and a hash, never the data.
    Gathered {
        /// The system's id in the data map.
        system: String,
        /// Datasets read.
        datasets: u32,
        /// Rows found.
        rows: u32,
        /// SHA-256 of what was found, as stored.
        hash: String,
    },
    /// A connector could not read a system; `last` when it will not try again.
    GatherFailed {
        /// The system's id in the data map.
        system: String,
        /// Tries so far.
        attempts: u32,
        /// No more tries: the officer gathers by hand.
        last: bool,
    },
    /// A system's owner was asked to search it by hand (a manual system, or one whose
    /// connector gave up), with a link that needs no staff account.
    OwnerAsked {
        /// The system's id in the data map.
        system: String,
        /// The day the answer is asked for (`YYYY-MM-DD`, Japan).
        due_on: String,
    },
    /// A system's owner, or a recipient of the data, answered an action's link: done (with
    /// the rows), or not (their reason is kept sealed with the job, not on the trail).
    OwnerActed {
        /// The system's or recipient's id in the data map.
        system: String,
        /// Whether it was done.
        done: bool,
        /// Rows done.
        rows: u32,
    },
    /// The officer stopped provision of the subject's data to third parties (Art. 35(3)): the
    /// recipients it stops for are told.
    ProvisionStopped {
        /// Third parties it stops for.
        recipients: u32,
    },
    /// A recipient of the data (a processor or third party) was sent instructions (Art. 35).
    RecipientNotified {
        /// The recipient's id in the data map.
        recipient: String,
        /// The day the confirmation is asked for (`YYYY-MM-DD`, Japan).
        due_on: String,
    },
    /// A system's owner answered through their link: what they found, as counts and a hash.
    OwnerAnswered {
        /// The system's id in the data map.
        system: String,
        /// Datasets reported.
        datasets: u32,
        /// Rows reported.
        rows: u32,
        /// SHA-256 of what was stored.
        hash: String,
    },
    /// A system's owner was reminded of an unanswered task.
    OwnerReminded {
        /// The system's id in the data map.
        system: String,
    },
    /// An officer ordered the erasure the plan shows (carried out at once, or after a second
    /// officer's approval where the office requires one).
    ErasureOrdered {
        /// Systems the connectors change.
        systems: u32,
        /// Rows affected, as planned.
        rows: u32,
        /// A suspension of use (利用停止) rather than an erasure.
        suspend: bool,
    },
    /// A second officer approved an ordered erasure or suspension; it is carried out.
    ErasureApproved {
        /// Systems the connectors change.
        systems: u32,
        /// A suspension of use rather than an erasure.
        suspend: bool,
    },
    /// A connector carried out the erasure or suspension in one system and checked it:
    /// counts only.
    Erased {
        /// The system's id in the data map.
        system: String,
        /// Rows deleted.
        deleted: u32,
        /// Rows whose fields were cleared or masked, or that were marked.
        cleared: u32,
        /// Rows kept under their basis.
        kept: u32,
        /// A suspension of use rather than an erasure.
        suspend: bool,
    },
    /// A connector could not carry out the erasure in one system; nothing changed there.
    EraseFailed {
        /// The system's id in the data map.
        system: String,
        /// Tries so far.
        attempts: u32,
        /// No more tries: the officer sees to it.
        last: bool,
    },
    /// An officer ordered a correction in a dataset: which fields (never the values).
    CorrectionOrdered {
        /// The dataset's id.
        dataset: String,
        /// The fields, comma-separated.
        fields: String,
    },
    /// A second officer approved an ordered correction; it is carried out.
    CorrectionApproved {
        /// The dataset's id.
        dataset: String,
    },
    /// A connector corrected a dataset: which fields, how many rows.
    Corrected {
        /// The dataset's id.
        dataset: String,
        /// The fields, comma-separated.
        fields: String,
        /// Rows corrected.
        rows: u32,
    },
    /// A closed request's personal data were erased at the end of the retention period
    /// (Art. 22): name, addresses, texts and the answer's words; the number, kind, dates,
    /// outcome and the trail stay.
    RequestPurged,
    /// What connectors gathered for a closed request was deleted at the end of its retention.
    GatheredDeleted {
        /// The system's id in the data map.
        system: String,
    },
    /// An officer decided what the answer does with a gathered field.
    FieldReviewed {
        /// The dataset's id.
        dataset: String,
        /// The field's name.
        field: String,
        /// `FieldDecision::as_str`.
        decision: String,
    },
}

impl Event {
    /// Stable name, used in errors and audit actions.
    pub fn name(&self) -> &'static str {
        match self {
            Event::ConfirmEmail => "confirm_email",
            Event::ConfirmRequester { .. } => "confirm_requester",
            Event::SubmitEvidence => "submit_evidence",
            Event::ApproveIdentity => "approve_identity",
            Event::RequestMoreEvidence { .. } => "request_more_evidence",
            Event::RejectIdentity { .. } => "reject_identity",
            Event::RecordPayment { .. } => "record_payment",
            Event::StartWork => "start_work",
            Event::RequestInfo { .. } => "request_info",
            Event::ProvideInfo => "provide_info",
            Event::ExtendDeadline { .. } => "extend_deadline",
            Event::ChangeDelivery { .. } => "change_delivery",
            Event::Complete(_) => "complete",
            Event::Refuse { .. } => "refuse",
            Event::Withdraw => "withdraw",
            Event::Expire => "expire",
            Event::WarnExpiry => "warn_expiry",
            Event::MatchCustomerRecord { .. } => "match_customer_record",
            Event::Record(AuditOnly::Viewed { .. }) => "viewed",
            Event::Record(AuditOnly::Downloaded { .. }) => "downloaded",
            Event::Record(AuditOnly::Note) => "note",
            Event::Record(AuditOnly::Assigned { .. }) => "assigned",
            Event::Record(AuditOnly::IncidentLinked { .. }) => "incident_linked",
            Event::Record(AuditOnly::Uploaded { .. }) => "uploaded",
            Event::Record(AuditOnly::Attached { .. }) => "attached",
            Event::Record(AuditOnly::Posted { .. }) => "posted",
            Event::Record(AuditOnly::LetterPosted { .. }) => "letter_posted",
            Event::Record(AuditOnly::CodeSent) => "code_sent",
            Event::Record(AuditOnly::CodeAccepted) => "code_accepted",
            Event::Record(AuditOnly::CodeLocked) => "code_locked",
            Event::Record(AuditOnly::PaymentFlagged { .. }) => "payment_flagged",
            Event::Record(AuditOnly::FlaggedRefundOrdered { .. }) => "flagged_refund_ordered",
            Event::Record(AuditOnly::RefundSent { .. }) => "refund_sent",
            Event::Record(AuditOnly::RefundRecorded { .. }) => "refund_recorded",
            Event::Record(AuditOnly::DocumentDeleted { .. }) => "document_deleted",
            Event::Record(AuditOnly::GatherRequested { .. }) => "gather_requested",
            Event::Record(AuditOnly::Gathered { .. }) => "gathered",
            Event::Record(AuditOnly::GatherFailed { .. }) => "gather_failed",
            Event::Record(AuditOnly::OwnerAsked { .. }) => "owner_asked",
            Event::Record(AuditOnly::OwnerAnswered { .. }) => "owner_answered",
            Event::Record(AuditOnly::OwnerActed { .. }) => "owner_acted",
            Event::Record(AuditOnly::RecipientNotified { .. }) => "recipient_notified",
            Event::Record(AuditOnly::ProvisionStopped { .. }) => "provision_stopped",
            Event::Record(AuditOnly::OwnerReminded { .. }) => "owner_reminded",
            Event::Record(AuditOnly::FieldReviewed { .. }) => "field_reviewed",
            Event::Record(AuditOnly::GatheredDeleted { .. }) => "gathered_deleted",
            Event::Record(AuditOnly::RequestPurged) => "request_purged",
            Event::Record(AuditOnly::ErasureOrdered { .. }) => "erasure_ordered",
            Event::Record(AuditOnly::CorrectionOrdered { .. }) => "correction_ordered",
            Event::Record(AuditOnly::CorrectionApproved { .. }) => "correction_approved",
            Event::Record(AuditOnly::Corrected { .. }) => "corrected",
            Event::Record(AuditOnly::ErasureApproved { .. }) => "erasure_approved",
            Event::Record(AuditOnly::Erased { .. }) => "erased",
            Event::Record(AuditOnly::EraseFailed { .. }) => "erase_failed",
        }
    }
}

/// Who an e-mail goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// The subject (or agent) at the confirmed contact address.
    Subject,
    /// The privacy office's shared address.
    Staff,
}

/// Which e-mail to send. The mail crate owns the wording in each language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mail {
    /// Request received; please confirm your address (carries the single-use link).
    ConfirmAddress,
    /// Address confirmed; identity is being reviewed.
    AddressConfirmed,
    /// Identity approved.
    IdentityApproved,
    /// More identity evidence needed.
    IdentityMoreNeeded,
    /// Identity could not be verified; request closed.
    IdentityRejected,
    /// Fee due, with how to pay.
    PaymentRequested,
    /// Receipt (領収書).
    PaymentReceived,
    /// More information needed to find the data (Art. 37(2)).
    InfoNeeded,
    /// Deadline extended, with the reason.
    DeadlineExtended,
    /// The disclosure will be delivered another way, with the reason (Art. 33(3)).
    DeliveryChanged,
    /// The request was answered (fulfilled, partly, or no data).
    Completed,
    /// The request was refused, with grounds.
    Refused,
    /// Withdrawal confirmed.
    Withdrawn,
    /// The request expired unanswered.
    Expired,
    /// A refund was issued.
    Refunded,
    /// A one-time code to open the request page.
    AccessCode,
    /// To staff: a confirmed request entered the queue.
    StaffNewRequest,
    /// To staff: the subject answered (evidence or information).
    StaffSubjectAnswered,
    /// To staff: the fee was paid.
    StaffPaymentReceived,
    /// To staff: the subject withdrew.
    StaffWithdrawn,
    /// The subject's turn runs out soon (evidence, payment or information still awaited).
    ExpiryWarning,
    /// To staff: a payment arrived that could not be accepted (wrong amount, not due).
    StaffPaymentFlagged,
    /// To staff: the audit trail failed verification.
    StaffAuditFailed,
    /// To staff: the daily digest of requests due soon and overdue.
    StaffDigest,
    /// To staff: outgoing mail keeps failing.
    StaffMailFailing,
    /// To a system's owner: search the system for a request's subject (a link, no data).
    OwnerTask,
    /// To a system's owner: the search (or the erasure or suspension) is still awaited.
    OwnerReminder,
    /// To a system's owner: carry out an erasure or suspension by hand, and report it.
    OwnerAction,
    /// To a processor or third party that received the data: erase it, stop using it, or
    /// take note that provision stops (Art. 35), and confirm.
    RecipientNotice,
    /// To a person who wrote to the complaints desk: received, and when to expect a reply.
    ComplaintReceived,
    /// To a person who wrote to the complaints desk: the officer's reply.
    ComplaintReply,
    /// To staff: the complaints desk received a message.
    StaffNewComplaint,
    /// To a person an incident involves (Art. 26(2)): what happened, which data, the cause,
    /// the risk of secondary damage, and where to ask.
    IncidentNotice,
}

impl Mail {
    /// Every template, for previews and snapshot tests.
    pub const ALL: [Mail; 33] = [
        Mail::ConfirmAddress,
        Mail::AddressConfirmed,
        Mail::IdentityApproved,
        Mail::IdentityMoreNeeded,
        Mail::IdentityRejected,
        Mail::PaymentRequested,
        Mail::PaymentReceived,
        Mail::InfoNeeded,
        Mail::DeadlineExtended,
        Mail::DeliveryChanged,
        Mail::Completed,
        Mail::Refused,
        Mail::Withdrawn,
        Mail::Expired,
        Mail::Refunded,
        Mail::AccessCode,
        Mail::StaffNewRequest,
        Mail::StaffSubjectAnswered,
        Mail::StaffPaymentReceived,
        Mail::StaffWithdrawn,
        Mail::StaffPaymentFlagged,
        Mail::StaffAuditFailed,
        Mail::ExpiryWarning,
        Mail::StaffDigest,
        Mail::StaffMailFailing,
        Mail::OwnerTask,
        Mail::OwnerReminder,
        Mail::OwnerAction,
        Mail::RecipientNotice,
        Mail::ComplaintReceived,
        Mail::ComplaintReply,
        Mail::StaffNewComplaint,
        Mail::IncidentNotice,
    ];

    /// Whether a requester without an e-mail address gets this notice as a letter. Only
    /// what the requester must know or act on is posted (each letter costs postage and a
    /// clerk's time): the requests to act (evidence, fee, information), the answer, and the
    /// ends the requester did not choose; what merely reports progress is not.
    pub fn by_post(self) -> bool {
        matches!(
            self,
            Mail::IdentityMoreNeeded
                | Mail::IdentityRejected
                | Mail::PaymentRequested
                | Mail::InfoNeeded
                | Mail::DeadlineExtended
                | Mail::DeliveryChanged
                | Mail::Completed
                | Mail::Refused
                | Mail::Expired
                | Mail::Refunded
                | Mail::IncidentNotice
        )
    }

    /// Stable identifier (the template folder's name).
    pub fn as_str(self) -> &'static str {
        match self {
            Mail::ConfirmAddress => "confirm_address",
            Mail::AddressConfirmed => "address_confirmed",
            Mail::IdentityApproved => "identity_approved",
            Mail::IdentityMoreNeeded => "identity_more_needed",
            Mail::IdentityRejected => "identity_rejected",
            Mail::PaymentRequested => "payment_requested",
            Mail::PaymentReceived => "payment_received",
            Mail::InfoNeeded => "info_needed",
            Mail::DeadlineExtended => "deadline_extended",
            Mail::DeliveryChanged => "delivery_changed",
            Mail::Completed => "completed",
            Mail::Refused => "refused",
            Mail::Withdrawn => "withdrawn",
            Mail::Expired => "expired",
            Mail::Refunded => "refunded",
            Mail::AccessCode => "access_code",
            Mail::StaffNewRequest => "staff_new_request",
            Mail::StaffSubjectAnswered => "staff_subject_answered",
            Mail::StaffPaymentReceived => "staff_payment_received",
            Mail::StaffWithdrawn => "staff_withdrawn",
            Mail::StaffPaymentFlagged => "staff_payment_flagged",
            Mail::StaffAuditFailed => "staff_audit_failed",
            Mail::ExpiryWarning => "expiry_warning",
            Mail::StaffDigest => "staff_digest",
            Mail::StaffMailFailing => "staff_mail_failing",
            Mail::OwnerTask => "owner_task",
            Mail::OwnerReminder => "owner_reminder",
            Mail::OwnerAction => "owner_action",
            Mail::RecipientNotice => "recipient_notice",
            Mail::ComplaintReceived => "complaint_received",
            Mail::ComplaintReply => "complaint_reply",
            Mail::StaffNewComplaint => "staff_new_complaint",
            Mail::IncidentNotice => "incident_notice",
        }
    }

    /// What the mail is, in words (the staff page's list of mail sent).
    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (Mail::ConfirmAddress, false) => "メールアドレス確認のお願い",
            (Mail::ConfirmAddress, true) => "Address confirmation",
            (Mail::AddressConfirmed, false) => "受付のお知らせ",
            (Mail::AddressConfirmed, true) => "Request received",
            (Mail::IdentityApproved, false) => "本人確認完了のお知らせ",
            (Mail::IdentityApproved, true) => "Identity approved",
            (Mail::IdentityMoreNeeded, false) => "本人確認書類の再提出のお願い",
            (Mail::IdentityMoreNeeded, true) => "More identity documents needed",
            (Mail::IdentityRejected, false) => "本人確認ができなかった旨のお知らせ",
            (Mail::IdentityRejected, true) => "Identity not established",
            (Mail::PaymentRequested, false) => "手数料のお支払いのお願い",
            (Mail::PaymentRequested, true) => "Fee requested",
            (Mail::PaymentReceived, false) => "入金確認のお知らせ",
            (Mail::PaymentReceived, true) => "Payment received",
            (Mail::InfoNeeded, false) => "確認事項のお尋ね",
            (Mail::InfoNeeded, true) => "Information needed",
            (Mail::DeadlineExtended, false) => "回答期限延長のお知らせ",
            (Mail::DeadlineExtended, true) => "Deadline extended",
            (Mail::DeliveryChanged, false) => "開示方法変更のお知らせ",
            (Mail::DeliveryChanged, true) => "Delivery method changed",
            (Mail::Completed, false) => "回答のお知らせ",
            (Mail::Completed, true) => "The answer",
            (Mail::Refused, false) => "回答（ご請求に応じられない旨）のお知らせ",
            (Mail::Refused, true) => "Refusal",
            (Mail::Withdrawn, false) => "取下げのお知らせ",
            (Mail::Withdrawn, true) => "Withdrawn",
            (Mail::Expired, false) => "手続き終了のお知らせ",
            (Mail::Expired, true) => "Closed (expired)",
            (Mail::Refunded, false) => "返金のお知らせ",
            (Mail::Refunded, true) => "Refunded",
            (Mail::AccessCode, false) => "確認コード",
            (Mail::AccessCode, true) => "Access code",
            (Mail::StaffNewRequest, false) => "新しい請求（担当者宛て）",
            (Mail::StaffNewRequest, true) => "New request (to staff)",
            (Mail::StaffSubjectAnswered, false) => "本人からの回答（担当者宛て）",
            (Mail::StaffSubjectAnswered, true) => "The subject answered (to staff)",
            (Mail::StaffPaymentReceived, false) => "入金（担当者宛て）",
            (Mail::StaffPaymentReceived, true) => "Payment received (to staff)",
            (Mail::StaffWithdrawn, false) => "取下げ（担当者宛て）",
            (Mail::StaffWithdrawn, true) => "Withdrawn (to staff)",
            (Mail::StaffPaymentFlagged, false) => "入金の要確認（担当者宛て）",
            (Mail::StaffPaymentFlagged, true) => "Payment to check (to staff)",
            (Mail::StaffAuditFailed, false) => "監査ログの検証エラー（担当者宛て）",
            (Mail::StaffAuditFailed, true) => "Audit check failed (to staff)",
            (Mail::ExpiryWarning, false) => "手続き期限のお知らせ",
            (Mail::ExpiryWarning, true) => "Expiry warning",
            (Mail::StaffDigest, false) => "日次の一覧（担当者宛て）",
            (Mail::StaffDigest, true) => "Daily digest (to staff)",
            (Mail::StaffMailFailing, false) => "メール送信の障害（担当者宛て）",
            (Mail::StaffMailFailing, true) => "Mail failing (to staff)",
            (Mail::OwnerTask, false) => "データ確認の依頼（システム担当者宛て）",
            (Mail::OwnerTask, true) => "Search request (to a system's owner)",
            (Mail::OwnerReminder, false) => "再依頼（システム担当者宛て）",
            (Mail::OwnerReminder, true) => "Reminder (to a system's owner)",
            (Mail::OwnerAction, false) => "消去等の依頼（システム担当者宛て）",
            (Mail::OwnerAction, true) => "Work request (to a system's owner)",
            (Mail::RecipientNotice, false) => "提供先へのご依頼",
            (Mail::RecipientNotice, true) => "Notice to a recipient",
            (Mail::ComplaintReceived, false) => "苦情・相談の受付のお知らせ",
            (Mail::ComplaintReceived, true) => "Complaint received",
            (Mail::ComplaintReply, false) => "苦情・相談へのご回答",
            (Mail::ComplaintReply, true) => "Reply to a complaint",
            (Mail::StaffNewComplaint, false) => "新しい苦情・相談（担当者宛て）",
            (Mail::StaffNewComplaint, true) => "New complaint (to staff)",
            (Mail::IncidentNotice, false) => "漏えい等に関するお知らせ（ご本人宛て）",
            (Mail::IncidentNotice, true) => "Incident notice (to a person involved)",
        }
    }

    /// Parses [`Mail::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// Why money goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    /// More than the fee arrived.
    Overpayment,
    /// Withdrawn before work started.
    WithdrawnBeforeWork,
    /// Refused before work started.
    RefusedBeforeWork,
}

/// A line of the audit trail, as the domain sees it. `detail` never holds personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Dotted action name, e.g. `identity.approved`.
    pub action: String,
    /// Small structured facts: states, amounts, grounds. Never names, addresses or free text.
    pub detail: Vec<(String, String)>,
}

/// What the application must do after committing a transition, in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Append to the audit trail.
    Audit(AuditRecord),
    /// Enqueue an e-mail in the outbox.
    Email {
        /// To whom.
        to: Recipient,
        /// Which template.
        mail: Mail,
    },
    /// Offer the fee for payment (creates a card checkout where card payment is enabled).
    RequestPayment {
        /// The amount still due.
        amount: Yen,
    },
    /// Pay money back by the method it came in.
    Refund {
        /// How much.
        amount: Yen,
        /// Why.
        reason: RefundReason,
    },
}
