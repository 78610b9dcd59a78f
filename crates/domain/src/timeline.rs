//! The trail in words, for the request's timeline a person reads: each audit action and actor
//! said in Japanese or English, never its stored spelling. The audit page keeps the raw entry
//! for auditors.

/// An audit action in words; `None` for an action this table does not know (the page then
/// says only that something was recorded).
pub fn action_words(action: &str, en: bool) -> Option<&'static str> {
    const WORDS: &[(&str, &str, &str)] = &[
        ("request.filed", "請求を受け付けました", "Request received"),
        ("request.assigned", "担当者を割り当てました", "Assigned"),
        (
            "request.incident_linked",
            "漏えい等の事態を請求に結び付けました",
            "Linked to an incident",
        ),
        (
            "request.confirm_email",
            "メールアドレスが確認されました",
            "E-mail address confirmed",
        ),
        (
            "request.submit_evidence",
            "本人確認書類が提出されました",
            "Identity documents submitted",
        ),
        (
            "request.approve_identity",
            "本人確認を承認しました",
            "Identity approved",
        ),
        (
            "request.request_more_evidence",
            "本人確認書類の再提出を依頼しました",
            "More identity documents asked for",
        ),
        (
            "request.reject_identity",
            "本人確認ができなかったため終了しました",
            "Closed: identity not established",
        ),
        (
            "request.record_payment",
            "手数料の入金を記録しました",
            "Fee payment recorded",
        ),
        ("request.start_work", "対応を開始しました", "Work started"),
        (
            "request.request_info",
            "本人に確認事項をお尋ねしました",
            "The subject was asked for information",
        ),
        (
            "request.provide_info",
            "本人から回答がありました",
            "The subject answered",
        ),
        (
            "request.extend_deadline",
            "回答期限を延長しました",
            "Deadline extended",
        ),
        (
            "request.change_delivery",
            "開示の方法を変更しました",
            "Delivery method changed",
        ),
        ("request.complete", "対応を完了しました", "Completed"),
        (
            "request.refuse",
            "請求に応じない旨を決定しました",
            "Refused",
        ),
        ("request.withdraw", "請求が取り下げられました", "Withdrawn"),
        (
            "request.expire",
            "期限までに手続きがなく終了しました",
            "Closed: expired",
        ),
        (
            "request.warn_expiry",
            "手続きの期限が近いことを本人に知らせました",
            "The subject was warned of the expiry",
        ),
        (
            "request.match_customer_record",
            "顧客情報と照合しました",
            "Checked against customer records",
        ),
        (
            "identity.matched_customer_record",
            "顧客情報と一致しました",
            "Matched a customer record",
        ),
        (
            "identity.customer_record_not_matched",
            "顧客情報と一致しませんでした",
            "No customer record matched",
        ),
        (
            "data.viewed",
            "個人情報を閲覧しました",
            "Personal data viewed",
        ),
        (
            "file.downloaded",
            "ファイルがダウンロードされました",
            "File downloaded",
        ),
        ("note.added", "メモを記録しました", "Note recorded"),
        (
            "document.uploaded",
            "本人から書類が提出されました",
            "Documents uploaded by the subject",
        ),
        (
            "document.attached",
            "書類を添付しました",
            "Document attached",
        ),
        (
            "document.deleted",
            "保存期間の経過により書類を削除しました",
            "Document deleted at the end of retention",
        ),
        ("answer.posted", "通知書を発送しました", "Letter posted"),
        ("letter.posted", "書面を郵送しました", "Letter posted"),
        (
            "request.confirm_requester",
            "受付担当者が請求者を確認して受け付けました",
            "Received and confirmed by the clerk",
        ),
        (
            "requester.confirmed",
            "請求者の確認方法を記録しました",
            "How the requester was confirmed recorded",
        ),
        (
            "identity.documents_instead",
            "窓口等での受付のため、書類で本人確認を行います",
            "Entered by staff: identity is checked on documents",
        ),
        (
            "request.purged",
            "保存期間の経過により個人データを消去しました",
            "Personal data erased at the end of retention",
        ),
        (
            "answer.recorded",
            "回答の内容を記録しました",
            "Answer recorded",
        ),
        ("grounds.recorded", "理由を記録しました", "Grounds recorded"),
        (
            "access_code.sent",
            "確認コードを送りました",
            "Access code sent",
        ),
        (
            "access_code.accepted",
            "確認コードで本人が開きました",
            "Opened with an access code",
        ),
        (
            "access_code.locked",
            "確認コードの誤入力が続いたため停止しました",
            "Access code locked after wrong attempts",
        ),
        ("payment.recorded", "入金を記録しました", "Payment recorded"),
        (
            "payment.flagged",
            "入金に確認が必要です",
            "Payment needs checking",
        ),
        (
            "payment.flagged_refund_ordered",
            "返金を指示しました",
            "Refund ordered",
        ),
        ("refund.sent", "返金しました", "Refunded"),
        ("refund.recorded", "返金を記録しました", "Refund recorded"),
        (
            "deadline.extended",
            "回答期限を延長しました",
            "Deadline extended",
        ),
        (
            "delivery.changed",
            "開示の方法を変更しました",
            "Delivery method changed",
        ),
        (
            "gather.requested",
            "各システムからのデータの収集を開始しました",
            "Gathering started",
        ),
        (
            "data.gathered",
            "システムからデータを収集しました",
            "Data gathered from a system",
        ),
        (
            "gather.failed",
            "システムからの収集に失敗しました",
            "Gathering from a system failed",
        ),
        (
            "data.field_reviewed",
            "項目ごとの開示の可否を確認しました",
            "Fields reviewed",
        ),
        (
            "data.gathered_deleted",
            "保存期間の経過により収集したデータを削除しました",
            "Gathered data deleted at the end of retention",
        ),
        (
            "owner.asked",
            "システムの担当者に作業を依頼しました",
            "The system's owner was asked",
        ),
        (
            "owner.reminded",
            "システムの担当者に再度依頼しました",
            "The system's owner was reminded",
        ),
        (
            "owner.answered",
            "システムの担当者から回答がありました",
            "The system's owner answered",
        ),
        (
            "owner.done",
            "作業の完了の報告がありました",
            "Reported done",
        ),
        (
            "owner.declined",
            "作業ができない旨の報告がありました",
            "Reported as not possible",
        ),
        (
            "recipient.notified",
            "提供先に連絡しました",
            "A recipient was told",
        ),
        (
            "provision.stopped",
            "第三者への提供を停止しました",
            "Provision to third parties stopped",
        ),
        ("erasure.ordered", "消去を指示しました", "Erasure ordered"),
        ("erasure.approved", "消去を承認しました", "Erasure approved"),
        (
            "suspension.ordered",
            "利用停止を指示しました",
            "Suspension of use ordered",
        ),
        (
            "suspension.approved",
            "利用停止を承認しました",
            "Suspension of use approved",
        ),
        (
            "data.erased",
            "システムで消去を実施しました",
            "Erased in a system",
        ),
        (
            "data.suspended",
            "システムで利用停止を実施しました",
            "Use stopped in a system",
        ),
        (
            "erasure.failed",
            "システムでの実施に失敗しました",
            "Failed in a system",
        ),
        (
            "correction.ordered",
            "訂正を指示しました",
            "Correction ordered",
        ),
        (
            "correction.approved",
            "訂正を承認しました",
            "Correction approved",
        ),
        (
            "data.corrected",
            "システムで訂正を実施しました",
            "Corrected in a system",
        ),
    ];
    WORDS
        .iter()
        .find(|(a, _, _)| *a == action)
        .map(|(_, ja, en_words)| if en { *en_words } else { *ja })
}

/// Who acted, in words, from the trail's actor kind and role.
pub fn actor_words(kind: &str, role: Option<&str>, en: bool) -> &'static str {
    match (kind, role, en) {
        ("subject", _, false) => "本人",
        ("subject", _, true) => "The subject",
        ("staff", Some("admin"), false) => "管理者",
        ("staff", Some("admin"), true) => "Administrator",
        ("staff", Some("auditor"), false) => "監査担当",
        ("staff", Some("auditor"), true) => "Auditor",
        ("staff", _, false) => "担当者",
        ("staff", _, true) => "Officer",
        ("webhook", _, false) => "決済事業者",
        ("webhook", _, true) => "Payment provider",
        (_, _, false) => "システム",
        (_, _, true) => "System",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuditOnly, Event};

    #[test]
    fn every_lifecycle_event_is_said_in_words() {
        // Every event a request moves by is recorded as `request.<name>`.
        for name in [
            "confirm_email",
            "confirm_requester",
            "submit_evidence",
            "approve_identity",
            "request_more_evidence",
            "reject_identity",
            "record_payment",
            "start_work",
            "request_info",
            "provide_info",
            "extend_deadline",
            "change_delivery",
            "complete",
            "refuse",
            "withdraw",
            "expire",
            "warn_expiry",
            "match_customer_record",
        ] {
            let action = format!("request.{name}");
            assert!(action_words(&action, false).is_some(), "{action}");
            assert!(action_words(&action, true).is_some(), "{action}");
        }
        assert_eq!(Event::StartWork.name(), "start_work");
        assert_eq!(
            Event::Record(AuditOnly::Note).name(),
            "note",
            "audit-only events are spelled by their own table"
        );
    }

    #[test]
    fn actions_and_actors_read_as_people_write_them() {
        assert_eq!(
            action_words("request.filed", false),
            Some("請求を受け付けました")
        );
        assert_eq!(
            action_words("data.erased", true),
            Some("Erased in a system")
        );
        assert_eq!(action_words("made.up", false), None);
        assert_eq!(actor_words("staff", Some("officer"), false), "担当者");
        assert_eq!(actor_words("webhook", None, false), "決済事業者");
        assert_eq!(actor_words("system", None, true), "System");
    }
}
