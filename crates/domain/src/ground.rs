//! Statutory grounds for refusing or limiting a request (APPI Art. 32(2), 33(2),(4),(5), 34,
//! 35, 37), and the payment methods the fee can arrive by.

use serde::{Deserialize, Serialize};

use crate::kind::RequestKind;

/// Why all or part of a request is not granted. Art. 36 asks the business to explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalGround {
    /// Harm to the life, body, property or other rights of the subject or a third party — 33(2)(i).
    HarmToPersons,
    /// Serious interference with the proper conduct of the business — 33(2)(ii).
    SeriousBusinessInterference,
    /// Disclosure would violate another law — 33(2)(iii).
    ViolatesOtherLaw,
    /// Another law already provides the same disclosure — 33(4).
    OtherLawProvides,
    /// Records excluded by 政令 Art. 11 — 33(5).
    ExcludedRecord,
    /// The purpose of use is already clear from the published notice — 32(2)(i).
    PurposeAlreadyPublished,
    /// Art. 21(4)(i)–(iii) exceptions to notifying the purpose — 32(2)(ii).
    PurposeNoticeException,
    /// The content is factual, or correction is not needed for the purpose — 34.
    ContentIsFactual,
    /// The ground claimed for suspension or stop is not established — 35(2),(4),(6).
    NotJustified,
    /// Full compliance costs too much; an alternative measure was taken — 35(2),(4),(6).
    AlternativeMeasureTaken,
    /// The data is not 保有個人データ (e.g. held only as a processor) — Art. 16(4).
    NotRetainedData,
}

impl RefusalGround {
    /// Every ground.
    pub const ALL: [RefusalGround; 11] = [
        RefusalGround::HarmToPersons,
        RefusalGround::SeriousBusinessInterference,
        RefusalGround::ViolatesOtherLaw,
        RefusalGround::OtherLawProvides,
        RefusalGround::ExcludedRecord,
        RefusalGround::PurposeAlreadyPublished,
        RefusalGround::PurposeNoticeException,
        RefusalGround::ContentIsFactual,
        RefusalGround::NotJustified,
        RefusalGround::AlternativeMeasureTaken,
        RefusalGround::NotRetainedData,
    ];

    /// Stable identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalGround::HarmToPersons => "harm_to_persons",
            RefusalGround::SeriousBusinessInterference => "serious_business_interference",
            RefusalGround::ViolatesOtherLaw => "violates_other_law",
            RefusalGround::OtherLawProvides => "other_law_provides",
            RefusalGround::ExcludedRecord => "excluded_record",
            RefusalGround::PurposeAlreadyPublished => "purpose_already_published",
            RefusalGround::PurposeNoticeException => "purpose_notice_exception",
            RefusalGround::ContentIsFactual => "content_is_factual",
            RefusalGround::NotJustified => "not_justified",
            RefusalGround::AlternativeMeasureTaken => "alternative_measure_taken",
            RefusalGround::NotRetainedData => "not_retained_data",
        }
    }

    /// Parses [`RefusalGround::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// The article the ground comes from.
    pub fn article(self) -> &'static str {
        match self {
            RefusalGround::HarmToPersons => "第33条第2項第1号",
            RefusalGround::SeriousBusinessInterference => "第33条第2項第2号",
            RefusalGround::ViolatesOtherLaw => "第33条第2項第3号",
            RefusalGround::OtherLawProvides => "第33条第4項",
            RefusalGround::ExcludedRecord => "第33条第5項・政令第11条",
            RefusalGround::PurposeAlreadyPublished => "第32条第2項第1号",
            RefusalGround::PurposeNoticeException => "第32条第2項第2号",
            RefusalGround::ContentIsFactual => "第34条",
            RefusalGround::NotJustified => "第35条",
            RefusalGround::AlternativeMeasureTaken => "第35条第2項・第4項・第6項",
            RefusalGround::NotRetainedData => "第16条第4項",
        }
    }

    /// Whether the ground is available for a kind of request.
    pub fn applies_to(self, kind: RequestKind) -> bool {
        use RequestKind as K;
        match self {
            RefusalGround::HarmToPersons
            | RefusalGround::SeriousBusinessInterference
            | RefusalGround::ViolatesOtherLaw => kind.is_disclosure(),
            RefusalGround::OtherLawProvides => kind == K::Disclosure,
            RefusalGround::ExcludedRecord => kind == K::ThirdPartyRecordDisclosure,
            RefusalGround::PurposeAlreadyPublished | RefusalGround::PurposeNoticeException => {
                kind == K::PurposeNotification
            }
            RefusalGround::ContentIsFactual => kind == K::Correction,
            RefusalGround::NotJustified | RefusalGround::AlternativeMeasureTaken => {
                kind.needs_ground()
            }
            RefusalGround::NotRetainedData => true,
        }
    }

    /// Japanese wording for letters and e-mail.
    pub fn label_ja(self) -> &'static str {
        match self {
            RefusalGround::HarmToPersons => {
                "本人又は第三者の生命、身体、財産その他の権利利益を害するおそれがあるため"
            }
            RefusalGround::SeriousBusinessInterference => {
                "当社の業務の適正な実施に著しい支障を及ぼすおそれがあるため"
            }
            RefusalGround::ViolatesOtherLaw => "他の法令に違反することとなるため",
            RefusalGround::OtherLawProvides => "他の法令により同等の開示の手続が定められているため",
            RefusalGround::ExcludedRecord => "政令で定める記録に該当するため",
            RefusalGround::PurposeAlreadyPublished => "利用目的が既に公表により明らかであるため",
            RefusalGround::PurposeNoticeException => "第21条第4項各号に該当するため",
            RefusalGround::ContentIsFactual => "調査の結果、内容が事実と相違しないため",
            RefusalGround::NotJustified => "調査の結果、請求に理由があることが判明しなかったため",
            RefusalGround::AlternativeMeasureTaken => {
                "多額の費用を要するため、代わるべき措置をとったため"
            }
            RefusalGround::NotRetainedData => "当社の保有個人データに該当しないため",
        }
    }

    /// English wording.
    pub fn label_en(self) -> &'static str {
        match self {
            RefusalGround::HarmToPersons => {
                "It could harm the life, body, property or other rights of you or a third party"
            }
            RefusalGround::SeriousBusinessInterference => {
                "It could seriously interfere with the proper conduct of our business"
            }
            RefusalGround::ViolatesOtherLaw => "It would violate another law",
            RefusalGround::OtherLawProvides => "Another law provides an equivalent disclosure",
            RefusalGround::ExcludedRecord => "The records are excluded by Cabinet Order",
            RefusalGround::PurposeAlreadyPublished => "The purpose of use is already published",
            RefusalGround::PurposeNoticeException => "An exception of Art. 21(4) applies",
            RefusalGround::ContentIsFactual => "Our investigation found the content to be factual",
            RefusalGround::NotJustified => "Our investigation did not establish the ground claimed",
            RefusalGround::AlternativeMeasureTaken => {
                "Full compliance would be very costly; an alternative measure was taken"
            }
            RefusalGround::NotRetainedData => "The data is not personal data we retain",
        }
    }
}

/// How the fee was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Card through Stripe Checkout; recorded only by the verified webhook.
    Card,
    /// 銀行振込.
    BankTransfer,
    /// 定額小為替 (valid six months from issue).
    PostalMoneyOrder,
    /// 郵便切手, where the business accepts them.
    PostageStamps,
    /// Cash at the counter.
    Cash,
}

impl PaymentMethod {
    /// Every method.
    pub const ALL: [PaymentMethod; 5] = [
        PaymentMethod::Card,
        PaymentMethod::BankTransfer,
        PaymentMethod::PostalMoneyOrder,
        PaymentMethod::PostageStamps,
        PaymentMethod::Cash,
    ];

    /// Stable identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Card => "card",
            PaymentMethod::BankTransfer => "bank_transfer",
            PaymentMethod::PostalMoneyOrder => "postal_money_order",
            PaymentMethod::PostageStamps => "postage_stamps",
            PaymentMethod::Cash => "cash",
        }
    }

    /// Parses [`PaymentMethod::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Offline methods are recorded by an officer; card payments only by the webhook.
    pub fn is_offline(self) -> bool {
        self != PaymentMethod::Card
    }

    /// The method's name for the subject, in Japanese or English.
    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (PaymentMethod::Card, false) => "クレジットカード",
            (PaymentMethod::Card, true) => "Card",
            (PaymentMethod::BankTransfer, false) => "銀行振込",
            (PaymentMethod::BankTransfer, true) => "Bank transfer",
            (PaymentMethod::PostalMoneyOrder, false) => "定額小為替",
            (PaymentMethod::PostalMoneyOrder, true) => "Postal money order",
            (PaymentMethod::PostageStamps, false) => "郵便切手",
            (PaymentMethod::PostageStamps, true) => "Postage stamps",
            (PaymentMethod::Cash, false) => "現金（窓口）",
            (PaymentMethod::Cash, true) => "Cash at the counter",
        }
    }
}
