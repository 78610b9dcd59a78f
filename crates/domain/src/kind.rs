//! Request kinds: what the subject asks for, and the APPI article that grants it.

use serde::{Deserialize, Serialize};

/// What the subject asks the business to do (開示等の請求等, APPI Art. 32–35).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// 保有個人データの開示 (Art. 33(1)).
    Disclosure,
    /// 第三者提供記録の開示 (Art. 33(5)).
    ThirdPartyRecordDisclosure,
    /// 利用目的の通知 (Art. 32(2)).
    PurposeNotification,
    /// 訂正・追加・削除 (Art. 34).
    Correction,
    /// 利用停止・消去 (Art. 35(1),(5)).
    SuspensionOrErasure,
    /// 第三者提供の停止 (Art. 35(3),(5)).
    ThirdPartyStop,
}

impl RequestKind {
    /// Every kind, in the order forms and tables list them.
    pub const ALL: [RequestKind; 6] = [
        RequestKind::Disclosure,
        RequestKind::ThirdPartyRecordDisclosure,
        RequestKind::PurposeNotification,
        RequestKind::Correction,
        RequestKind::SuspensionOrErasure,
        RequestKind::ThirdPartyStop,
    ];

    /// The stable identifier used in URLs, the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Disclosure => "disclosure",
            RequestKind::ThirdPartyRecordDisclosure => "third_party_record_disclosure",
            RequestKind::PurposeNotification => "purpose_notification",
            RequestKind::Correction => "correction",
            RequestKind::SuspensionOrErasure => "suspension_or_erasure",
            RequestKind::ThirdPartyStop => "third_party_stop",
        }
    }

    /// Parses [`RequestKind::as_str`] back; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The article as a Japanese text cites it (法第33条第1項).
    pub fn article_ja(self) -> &'static str {
        match self {
            RequestKind::Disclosure => "法第33条第1項",
            RequestKind::ThirdPartyRecordDisclosure => "法第33条第5項",
            RequestKind::PurposeNotification => "法第32条第2項",
            RequestKind::Correction => "法第34条",
            RequestKind::SuspensionOrErasure => "法第35条第1項・第5項",
            RequestKind::ThirdPartyStop => "法第35条第3項・第5項",
        }
    }

    /// The article of the APPI that grants this right.
    pub fn article(self) -> &'static str {
        match self {
            RequestKind::Disclosure => "Art. 33(1)",
            RequestKind::ThirdPartyRecordDisclosure => "Art. 33(5)",
            RequestKind::PurposeNotification => "Art. 32(2)",
            RequestKind::Correction => "Art. 34",
            RequestKind::SuspensionOrErasure => "Art. 35(1),(5)",
            RequestKind::ThirdPartyStop => "Art. 35(3),(5)",
        }
    }

    /// Art. 38 allows a fee only for purpose notification and the two disclosure kinds.
    pub fn fee_allowed_under_appi(self) -> bool {
        matches!(
            self,
            RequestKind::Disclosure
                | RequestKind::ThirdPartyRecordDisclosure
                | RequestKind::PurposeNotification
        )
    }

    /// Disclosure kinds are answered with a package delivered electronically or on paper.
    pub fn is_disclosure(self) -> bool {
        matches!(
            self,
            RequestKind::Disclosure | RequestKind::ThirdPartyRecordDisclosure
        )
    }

    /// Suspension and third-party stop must name the statutory ground they rely on.
    pub fn needs_ground(self) -> bool {
        matches!(
            self,
            RequestKind::SuspensionOrErasure | RequestKind::ThirdPartyStop
        )
    }

    /// Japanese label, as used on forms, letters and e-mail.
    pub fn label_ja(self) -> &'static str {
        match self {
            RequestKind::Disclosure => "保有個人データの開示",
            RequestKind::ThirdPartyRecordDisclosure => "第三者提供記録の開示",
            RequestKind::PurposeNotification => "利用目的の通知",
            RequestKind::Correction => "訂正・追加・削除",
            RequestKind::SuspensionOrErasure => "利用停止・消去",
            RequestKind::ThirdPartyStop => "第三者提供の停止",
        }
    }

    /// English label.
    pub fn label_en(self) -> &'static str {
        match self {
            RequestKind::Disclosure => "Disclosure of retained personal data",
            RequestKind::ThirdPartyRecordDisclosure => {
                "Disclosure of third-party provision records"
            }
            RequestKind::PurposeNotification => "Notification of the purpose of use",
            RequestKind::Correction => "Correction, addition or deletion",
            RequestKind::SuspensionOrErasure => "Suspension of use or erasure",
            RequestKind::ThirdPartyStop => "Stop of provision to third parties",
        }
    }
}

/// Who files the request (APPI Art. 37(3); 政令 Art. 13).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requester {
    /// The data subject (本人).
    #[default]
    Subject,
    /// 法定代理人: parent of a minor, guardian of an adult under guardianship.
    LegalRepresentative,
    /// 任意代理人: an agent appointed by the subject with a power of attorney (委任状).
    AppointedAgent,
}

impl Requester {
    /// Every requester type.
    pub const ALL: [Requester; 3] = [
        Requester::Subject,
        Requester::LegalRepresentative,
        Requester::AppointedAgent,
    ];

    /// Stable identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            Requester::Subject => "subject",
            Requester::LegalRepresentative => "legal_representative",
            Requester::AppointedAgent => "appointed_agent",
        }
    }

    /// Parses [`Requester::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// True for both kinds of agent.
    pub fn is_agent(self) -> bool {
        self != Requester::Subject
    }

    /// Who filed, in words.
    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (Requester::Subject, false) => "本人",
            (Requester::Subject, true) => "The subject",
            (Requester::LegalRepresentative, false) => "法定代理人",
            (Requester::LegalRepresentative, true) => "Legal representative",
            (Requester::AppointedAgent, false) => "任意代理人（委任による代理人）",
            (Requester::AppointedAgent, true) => "Appointed agent",
        }
    }
}

/// How a disclosure reaches the subject (APPI Art. 33(1), 規則 Art. 30).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMethod {
    /// 電磁的記録の提供: download from the request page.
    Electronic,
    /// 書面の交付: a letter by post.
    Paper,
}

impl DeliveryMethod {
    /// Every method.
    pub const ALL: [DeliveryMethod; 2] = [DeliveryMethod::Electronic, DeliveryMethod::Paper];

    /// Stable identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMethod::Electronic => "electronic",
            DeliveryMethod::Paper => "paper",
        }
    }

    /// Parses [`DeliveryMethod::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [DeliveryMethod::Electronic, DeliveryMethod::Paper]
            .into_iter()
            .find(|d| d.as_str() == s)
    }

    /// The method, in words.
    pub fn label(self, en: bool) -> &'static str {
        match (self, en) {
            (DeliveryMethod::Electronic, false) => "電磁的記録の提供（ダウンロード）",
            (DeliveryMethod::Electronic, true) => "Electronic (download)",
            (DeliveryMethod::Paper, false) => "書面の交付（郵送）",
            (DeliveryMethod::Paper, true) => "Paper, by post",
        }
    }
}

/// The ground a suspension, erasure or third-party stop relies on (APPI Art. 35).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspensionGround {
    /// Used beyond the purpose of use (Art. 18) — Art. 35(1).
    PurposeViolation,
    /// Improper use (Art. 19) — Art. 35(1).
    ImproperUse,
    /// Acquired improperly (Art. 20) — Art. 35(1).
    ImproperAcquisition,
    /// Provided to a third party without consent (Art. 27(1)) or abroad (Art. 28) — Art. 35(3).
    UnlawfulProvision,
    /// The business no longer needs the data — Art. 35(5).
    NoLongerNeeded,
    /// A reportable breach (Art. 26(1)) involved the data — Art. 35(5).
    ReportableBreach,
    /// Handling may harm the subject's rights or legitimate interests — Art. 35(5).
    HarmToRights,
}

impl SuspensionGround {
    /// Every ground.
    pub const ALL: [SuspensionGround; 7] = [
        SuspensionGround::PurposeViolation,
        SuspensionGround::ImproperUse,
        SuspensionGround::ImproperAcquisition,
        SuspensionGround::UnlawfulProvision,
        SuspensionGround::NoLongerNeeded,
        SuspensionGround::ReportableBreach,
        SuspensionGround::HarmToRights,
    ];

    /// Stable identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            SuspensionGround::PurposeViolation => "purpose_violation",
            SuspensionGround::ImproperUse => "improper_use",
            SuspensionGround::ImproperAcquisition => "improper_acquisition",
            SuspensionGround::UnlawfulProvision => "unlawful_provision",
            SuspensionGround::NoLongerNeeded => "no_longer_needed",
            SuspensionGround::ReportableBreach => "reportable_breach",
            SuspensionGround::HarmToRights => "harm_to_rights",
        }
    }

    /// Parses [`SuspensionGround::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// Whether the ground can support this kind: Art. 35(1) grounds concern use, Art. 35(3)
    /// concerns provision, and the Art. 35(5) grounds support both.
    pub fn applies_to(self, kind: RequestKind) -> bool {
        match self {
            SuspensionGround::PurposeViolation
            | SuspensionGround::ImproperUse
            | SuspensionGround::ImproperAcquisition => kind == RequestKind::SuspensionOrErasure,
            SuspensionGround::UnlawfulProvision => kind == RequestKind::ThirdPartyStop,
            SuspensionGround::NoLongerNeeded
            | SuspensionGround::ReportableBreach
            | SuspensionGround::HarmToRights => kind.needs_ground(),
        }
    }

    /// Japanese label with its article.
    pub fn label_ja(self) -> &'static str {
        match self {
            SuspensionGround::PurposeViolation => "利用目的の範囲を超えた取扱い（第18条違反）",
            SuspensionGround::ImproperUse => "不適正な利用（第19条違反）",
            SuspensionGround::ImproperAcquisition => "不正な取得（第20条違反）",
            SuspensionGround::UnlawfulProvision => {
                "本人の同意のない第三者提供・外国への提供（第27条第1項・第28条違反）"
            }
            SuspensionGround::NoLongerNeeded => "利用する必要がなくなった（第35条第5項）",
            SuspensionGround::ReportableBreach => "漏えい等の事態が生じた（第26条第1項）",
            SuspensionGround::HarmToRights => "権利又は正当な利益が害されるおそれ（第35条第5項）",
        }
    }

    /// English label with its article.
    pub fn label_en(self) -> &'static str {
        match self {
            SuspensionGround::PurposeViolation => "Used beyond the purpose of use (Art. 18)",
            SuspensionGround::ImproperUse => "Improper use (Art. 19)",
            SuspensionGround::ImproperAcquisition => "Improperly acquired (Art. 20)",
            SuspensionGround::UnlawfulProvision => {
                "Provided to a third party without consent or abroad (Art. 27(1), 28)"
            }
            SuspensionGround::NoLongerNeeded => "No longer needed by the business (Art. 35(5))",
            SuspensionGround::ReportableBreach => "A reportable breach occurred (Art. 26(1))",
            SuspensionGround::HarmToRights => {
                "Handling may harm my rights or legitimate interests (Art. 35(5))"
            }
        }
    }
}
