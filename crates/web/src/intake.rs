//! The intake form, shared by the HTML form and the JSON API: validator checks the shape,
//! then `parse` builds the service's `NewRequest` from domain types, collecting every error
//! so the subject can fix them all at once.

use chrono::NaiveDate;
use madoguchi_domain::{
    ContactError, DeliveryMethod, EmailAddress, Policy, RequestKind, Requester, SuspensionGround,
    parse_birth_date, parse_kana, parse_phone,
};
use madoguchi_service::{Agent, Channel, Lang, NewRequest};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;
use validator::Validate;

use crate::error::FieldError;

/// A request as filed on the form or through the API. Every field is a string so that a bad
/// value comes back as a field error, not as an unreadable body.
#[derive(Debug, Default, Clone, Deserialize, Validate, ToSchema)]
#[serde(default)]
pub struct IntakeInput {
    /// `disclosure`, `third_party_record_disclosure`, `purpose_notification`, `correction`,
    /// `suspension_or_erasure` or `third_party_stop`.
    #[schema(example = "disclosure")]
    pub kind: String,
    /// `subject` (本人), `legal_representative` (法定代理人) or `appointed_agent` (任意代理人).
    #[schema(example = "subject")]
    pub requester: String,
    /// The data subject's full name.
    #[validate(length(min = 1, max = 100))]
    #[schema(example = "山田 太郎")]
    pub subject_name: String,
    /// The subject's name in kana (フリガナ).
    #[validate(length(min = 1, max = 100))]
    #[schema(example = "ヤマダ タロウ")]
    pub subject_kana: String,
    /// The subject's date of birth, `YYYY-MM-DD`. Optional, except where the kind's identity
    /// method is `customer_record` and the subject files for themselves.
    #[schema(example = "1990-04-01")]
    pub date_of_birth: String,
    /// Where we write to: the subject's address, or the agent's when an agent files.
    #[validate(length(min = 3, max = 254))]
    #[schema(example = "taro@example.jp")]
    pub email: String,
    /// Optional phone number.
    #[validate(length(max = 30))]
    #[schema(example = "03-1234-5678")]
    pub phone: String,
    /// For disclosure kinds: `electronic` (download) or `paper` (post).
    #[schema(example = "electronic")]
    pub delivery: String,
    /// Postal address; required when `delivery` is `paper`.
    #[validate(length(max = 300))]
    pub postal_address: String,
    /// For suspension and third-party stop: the ground relied on, e.g. `no_longer_needed`.
    pub ground: String,
    /// What data the request concerns and what you ask us to do.
    #[validate(length(min = 1, max = 4000))]
    #[schema(example = "会員サービスで保有している私の個人データ一式")]
    pub details: String,
    /// For correction: the content as we hold it.
    #[validate(length(max = 4000))]
    pub current_content: String,
    /// For correction: the correct content.
    #[validate(length(max = 4000))]
    pub correct_content: String,
    /// For agents: the agent's name.
    #[validate(length(max = 100))]
    pub agent_name: String,
    /// For agents: the agent's name in kana.
    #[validate(length(max = 100))]
    pub agent_kana: String,
    /// For agents: relationship to the subject (e.g. 親権者, 弁護士).
    #[validate(length(max = 100))]
    pub agent_relationship: String,
    /// For agents, optional: the subject's own e-mail address, to which the result may be sent
    /// as the business's policy says.
    #[validate(length(max = 254))]
    pub subject_email: String,
    /// Consent to the handling notice for this request's personal data.
    #[serde(deserialize_with = "checkbox")]
    #[schema(value_type = bool, example = true)]
    pub consent: bool,
    /// `ja` or `en`: the language of our answers.
    #[schema(example = "ja")]
    pub lang: String,
    /// The form's CSRF token (HTML form only).
    #[schema(ignore)]
    pub csrf: String,
}

/// HTML checkboxes send `on`; JSON sends `true`.
fn checkbox<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum V {
        B(bool),
        S(String),
    }
    Ok(match V::deserialize(d)? {
        V::B(b) => b,
        V::S(s) => matches!(s.as_str(), "on" | "true" | "yes" | "1"),
    })
}

const FIELD_ORDER: [&str; 19] = [
    "kind",
    "requester",
    "subject_name",
    "subject_kana",
    "date_of_birth",
    "email",
    "phone",
    "agent_name",
    "agent_kana",
    "agent_relationship",
    "subject_email",
    "details",
    "current_content",
    "correct_content",
    "ground",
    "delivery",
    "postal_address",
    "consent",
    "body",
];

/// A field's name in the form, as its error names it.
fn field_label(field: &str, lang: Lang) -> &'static str {
    const LABELS: &[(&str, &str, &str)] = &[
        ("kind", "請求の種類", "the kind of request"),
        ("requester", "請求者の区分", "who is filing"),
        ("subject_name", "氏名", "the name"),
        ("subject_kana", "フリガナ", "the reading of the name"),
        ("date_of_birth", "生年月日", "the date of birth"),
        ("email", "メールアドレス", "the e-mail address"),
        ("phone", "電話番号", "the telephone number"),
        ("agent_name", "代理人の氏名", "the agent's name"),
        (
            "agent_kana",
            "代理人のフリガナ",
            "the reading of the agent's name",
        ),
        (
            "agent_relationship",
            "ご本人との関係",
            "the relationship to the person",
        ),
        (
            "subject_email",
            "ご本人のメールアドレス",
            "the person's e-mail address",
        ),
        ("details", "請求の内容", "what you ask for"),
        ("current_content", "現在の内容", "the current content"),
        ("correct_content", "正しい内容", "the correct content"),
        ("ground", "理由", "the reason"),
        ("delivery", "開示の方法", "how the answer reaches you"),
        ("postal_address", "郵送先の住所", "the postal address"),
        ("consent", "同意", "the consent"),
    ];
    LABELS.iter().find(|(f, _, _)| *f == field).map_or(
        "",
        |(_, ja, en_label)| if lang.is_en() { en_label } else { ja },
    )
}

/// A field's error in words that name the field, for the core's intake rules.
pub(crate) fn message_for(field: &str, code: &str, lang: Lang) -> String {
    message(field, code, lang)
}

/// A field's error in words that name the field: a choice is chosen, a text entered.
fn message(field: &str, code: &str, lang: Lang) -> String {
    let label = field_label(field, lang);
    let choice = matches!(field, "kind" | "requester" | "ground" | "delivery");
    match (code, lang.is_en(), label.is_empty()) {
        ("required", false, false) if choice => return format!("{label}を選択してください。"),
        ("required", false, false) => return format!("{label}を入力してください。"),
        ("required", true, false) if choice => return format!("Choose {label}."),
        ("required", true, false) => return format!("{} is required.", capitalised(label)),
        ("length", false, false) => return format!("{label}の文字数が多すぎます。"),
        ("length", true, false) => return format!("{} is too long.", capitalised(label)),
        ("control", false, false) => {
            return format!("{label}に改行などの制御文字は使えません。1行で入力してください。");
        }
        _ => {}
    }
    code_message(code, lang).to_owned()
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn code_message(code: &str, lang: Lang) -> &'static str {
    match (code, lang.is_en()) {
        ("control", false) => "改行などの制御文字は使えません。1行で入力してください。",
        ("control", true) => {
            "Line breaks and other control characters cannot be used; enter it on one line."
        }
        ("required", false) => "入力してください。",
        ("required", true) => "This field is required.",
        ("length", false) => "文字数が多すぎます。",
        ("length", true) => "This is too long.",
        ("email", false) => "メールアドレスの形式が正しくありません（例: taro@example.jp）。",
        ("email", true) => "Enter an e-mail address like taro@example.jp.",
        ("kana", false) => "フリガナはカタカナまたはひらがなで入力してください。",
        ("kana", true) => "Write the reading in katakana or hiragana.",
        ("phone", false) => "電話番号は数字とハイフンで入力してください（例: 03-1234-5678）。",
        ("phone", true) => "Enter a phone number like 03-1234-5678.",
        ("choice", false) => "選択肢から選んでください。",
        ("choice", true) => "Choose one of the options.",
        ("required_without_email", false) => {
            "メールアドレスがない場合、ご通知はすべて郵送しますので、住所を入力してください。"
        }
        ("required_without_email", true) => {
            "Without an e-mail address every notice goes by post: enter the postal address."
        }
        ("needs_email", false) => {
            "電磁的記録による提供にはメールアドレスが必要です。書面の交付を選ぶか、メールアドレスを入力してください。"
        }
        ("needs_email", true) => {
            "An electronic answer needs an e-mail address: choose paper, or enter an address."
        }
        ("ground_mismatch", false) => "この請求の種類には使えない理由です。",
        ("ground_mismatch", true) => "This ground does not apply to this kind of request.",
        ("birth_date", false) => "生年月日は 1990年4月1日 のように西暦で入力してください。",
        ("birth_date", true) => "Enter the date of birth with a four-digit year, like 1990/4/1.",
        ("birth_date_range", false) => {
            "生年月日をご確認ください（未来の日付や 1900 年より前の日付は入力できません）。"
        }
        ("birth_date_range", true) => {
            "Check the date of birth: it cannot be in the future or before 1900."
        }
        ("birth_date_required", false) => {
            "この請求では、お客様の登録情報と照合して本人確認を行うため、生年月日の入力が必要です。"
        }
        ("birth_date_required", true) => {
            "We check your identity against our customer records for this request, so we need your date of birth."
        }
        ("consent", false) => "個人情報の取扱いに同意いただく必要があります。",
        ("consent", true) => "You need to agree to how we handle this information.",
        (_, false) => "入力内容を確認してください。",
        (_, true) => "Please check this field.",
    }
}

impl IntakeInput {
    /// The language answers should be in.
    pub fn lang(&self) -> Lang {
        Lang::parse(&self.lang)
    }

    /// [`IntakeInput::parse`] on today's date in Japan.
    pub fn parse_now(
        &self,
        channel: Channel,
        policy: &Policy,
    ) -> Result<NewRequest, Vec<FieldError>> {
        self.parse(
            channel,
            policy,
            madoguchi_domain::jst_date(chrono::Utc::now()),
        )
    }

    /// Checks every field and builds the request, or lists every problem. `policy` says which
    /// kinds need a date of birth; `today` (Japan date) bounds it.
    pub fn parse(
        &self,
        channel: Channel,
        policy: &Policy,
        today: NaiveDate,
    ) -> Result<NewRequest, Vec<FieldError>> {
        let lang = self.lang();
        let mut errors: Vec<FieldError> = Vec::new();
        let mut fail = |field: &str, code: &str| {
            if !errors.iter().any(|e| e.field == field) {
                errors.push(FieldError {
                    field: field.to_owned(),
                    code: code.to_owned(),
                    message: message(field, code, lang),
                });
            }
        };
        if let Err(v) = self.validate() {
            for (field, errs) in v.field_errors() {
                let value = self.value(&field);
                for e in errs {
                    let too_long = e
                        .params
                        .get("max")
                        .and_then(serde_json::Value::as_u64)
                        .is_some_and(|max| value.chars().count() as u64 > max);
                    if too_long {
                        fail(&field, "length");
                    }
                }
            }
        }
        // One-line fields hold no control character at all (a line break in a name would
        // reach a mail header); the boundary has already refused the rest everywhere, and the
        // address parser refuses anything but an address.
        for field in [
            "subject_name",
            "subject_kana",
            "phone",
            "agent_name",
            "agent_kana",
            "agent_relationship",
        ] {
            if self.value(field).chars().any(char::is_control) {
                fail(field, "control");
            }
        }
        // Only a clerk enters a request without an e-mail address (a letter, the counter, a
        // call; a mail to the desk has one): its notices then go by post.
        let email_optional = matches!(channel, Channel::Post | Channel::Phone | Channel::Counter);
        // Required text must have more than spaces in it.
        for field in ["subject_name", "subject_kana", "email", "details"] {
            if self.value(field).trim().is_empty() && !(field == "email" && email_optional) {
                fail(field, "required");
            }
        }
        let kind = RequestKind::parse(&self.kind);
        if kind.is_none() {
            fail(
                "kind",
                if self.kind.is_empty() {
                    "required"
                } else {
                    "choice"
                },
            );
        }
        let requester = Requester::parse(&self.requester);
        if requester.is_none() {
            fail(
                "requester",
                if self.requester.is_empty() {
                    "required"
                } else {
                    "choice"
                },
            );
        }
        let email = if self.email.trim().is_empty() && email_optional {
            Ok(None)
        } else {
            EmailAddress::parse(&self.email).map(Some)
        };
        if email.is_err() && !self.email.trim().is_empty() {
            fail("email", "email");
        }
        let kana = parse_kana(&self.subject_kana);
        if kana.is_err() && !self.subject_kana.trim().is_empty() {
            fail("subject_kana", "kana");
        }
        let phone = if self.phone.trim().is_empty() {
            Ok(None)
        } else {
            parse_phone(&self.phone).map(Some)
        };
        if phone.is_err() {
            fail("phone", "phone");
        }
        let birth_date = if self.date_of_birth.trim().is_empty() {
            None
        } else {
            match parse_birth_date(&self.date_of_birth, today) {
                Ok(d) => Some(d),
                Err(ContactError::BirthDateRange) => {
                    fail("date_of_birth", "birth_date_range");
                    None
                }
                Err(_) => {
                    fail("date_of_birth", "birth_date");
                    None
                }
            }
        };
        // Choices that do not parse; whether one is needed at all is the domain's rule.
        let mut delivery = None;
        let mut ground = None;
        if let Some(kind) = kind {
            if kind.is_disclosure() {
                delivery = DeliveryMethod::parse(&self.delivery);
                if delivery.is_none() && !self.delivery.is_empty() {
                    fail("delivery", "choice");
                }
            }
            if kind.needs_ground() {
                ground = SuspensionGround::parse(&self.ground);
                if ground.is_none() && !self.ground.is_empty() {
                    fail("ground", "choice");
                }
            }
        }
        let mut agent = None;
        let mut subject_email = None;
        if requester.is_some_and(Requester::is_agent) {
            if !self.subject_email.trim().is_empty() {
                match EmailAddress::parse(&self.subject_email) {
                    Ok(e) => subject_email = Some(e),
                    Err(_) => fail("subject_email", "email"),
                }
            }
            if !self.agent_kana.trim().is_empty() && parse_kana(&self.agent_kana).is_err() {
                fail("agent_kana", "kana");
            }
            agent = Some(Agent {
                name: self.agent_name.trim().to_owned(),
                kana: self.agent_kana.trim().to_owned(),
                relationship: self.agent_relationship.trim().to_owned(),
            });
        }
        // The law's intake rules, as the service will check them again for every channel
        // (a choice that did not parse skips its own rules, not the others').
        {
            let facts = madoguchi_domain::FilingFacts {
                kind,
                requester,
                delivery,
                postal_address: Some(self.postal_address.as_str()),
                ground,
                current_content: Some(self.current_content.as_str()),
                correct_content: Some(self.correct_content.as_str()),
                agent: agent.as_ref().map(|a| madoguchi_domain::AgentFacts {
                    name: &a.name,
                    kana: &a.kana,
                    relationship: &a.relationship,
                }),
                birth_date_given: birth_date.is_some() || !self.date_of_birth.trim().is_empty(),
                has_email: !(email_optional && self.email.trim().is_empty()),
            };
            for e in madoguchi_domain::check_filing(&facts, policy) {
                fail(e.field, e.code);
            }
        }
        if !self.consent {
            fail("consent", "consent");
        }
        // The summary lists errors in the order the form shows the fields.
        errors.sort_by_key(|e| {
            FIELD_ORDER
                .iter()
                .position(|f| *f == e.field)
                .unwrap_or(usize::MAX)
        });
        match (kind, requester, email, kana, phone) {
            (Some(kind), Some(requester), Ok(email), Ok(kana), Ok(phone)) if errors.is_empty() => {
                let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
                Ok(NewRequest {
                    kind,
                    requester,
                    subject_name: self.subject_name.trim().to_owned(),
                    subject_kana: kana,
                    subject_birth_date: birth_date,
                    email,
                    subject_email,
                    phone,
                    postal_address: opt(&self.postal_address),
                    delivery,
                    ground,
                    details: self.details.trim().to_owned(),
                    current_content: opt(&self.current_content),
                    correct_content: opt(&self.correct_content),
                    agent,
                    lang: self.lang(),
                    channel,
                    arrived_at: None,
                    entered: None,
                    from_complaint: None,
                })
            }
            _ => Err(errors),
        }
    }

    fn value(&self, field: &str) -> &str {
        match field {
            "subject_name" => &self.subject_name,
            "subject_kana" => &self.subject_kana,
            "email" => &self.email,
            "phone" => &self.phone,
            "postal_address" => &self.postal_address,
            "details" => &self.details,
            "current_content" => &self.current_content,
            "correct_content" => &self.correct_content,
            "agent_name" => &self.agent_name,
            "agent_kana" => &self.agent_kana,
            "agent_relationship" => &self.agent_relationship,
            "subject_email" => &self.subject_email,
            _ => "",
        }
    }

    /// The value of a field, for re-rendering the form.
    pub fn error_for<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
        errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> IntakeInput {
        IntakeInput {
            kind: "disclosure".into(),
            requester: "subject".into(),
            subject_name: "山田 太郎".into(),
            subject_kana: "ヤマダ タロウ".into(),
            email: "taro@example.jp".into(),
            delivery: "electronic".into(),
            details: "会員情報".into(),
            consent: true,
            ..Default::default()
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn parse(input: &IntakeInput) -> Result<NewRequest, Vec<FieldError>> {
        input.parse(Channel::Web, &Policy::appi(), today())
    }

    fn codes(input: &IntakeInput) -> Vec<(String, String)> {
        parse(input)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    #[test]
    fn a_complete_form_parses() {
        let new = parse(&valid()).unwrap();
        assert_eq!(
            new.subject_birth_date, None,
            "optional under the document method"
        );
        assert_eq!(new.subject_email, None);
    }

    #[test]
    fn every_field_is_checked() {
        type Mutation = Box<dyn Fn(&mut IntakeInput)>;
        let cases: Vec<(&str, Mutation, &str)> = vec![
            ("kind", Box::new(|i| i.kind = "everything".into()), "choice"),
            ("kind", Box::new(|i| i.kind = String::new()), "required"),
            (
                "requester",
                Box::new(|i| i.requester = "boss".into()),
                "choice",
            ),
            (
                "subject_name",
                Box::new(|i| i.subject_name = " ".into()),
                "required",
            ),
            (
                "subject_name",
                Box::new(|i| i.subject_name = "あ".repeat(101)),
                "length",
            ),
            (
                "subject_kana",
                Box::new(|i| i.subject_kana = "Yamada".into()),
                "kana",
            ),
            ("email", Box::new(|i| i.email = "taro@".into()), "email"),
            ("email", Box::new(|i| i.email = String::new()), "required"),
            ("phone", Box::new(|i| i.phone = "call me".into()), "phone"),
            (
                "delivery",
                Box::new(|i| i.delivery = String::new()),
                "required",
            ),
            (
                "postal_address",
                Box::new(|i| i.delivery = "paper".into()),
                "required",
            ),
            (
                "details",
                Box::new(|i| i.details = String::new()),
                "required",
            ),
            (
                "details",
                Box::new(|i| i.details = "x".repeat(4001)),
                "length",
            ),
            ("consent", Box::new(|i| i.consent = false), "consent"),
            (
                "agent_name",
                Box::new(|i| i.requester = "appointed_agent".into()),
                "required",
            ),
            (
                "ground",
                Box::new(|i| i.kind = "suspension_or_erasure".into()),
                "required",
            ),
            (
                "ground",
                Box::new(|i| {
                    i.kind = "third_party_stop".into();
                    i.ground = "improper_use".into();
                }),
                "ground_mismatch",
            ),
            (
                "current_content",
                Box::new(|i| i.kind = "correction".into()),
                "required",
            ),
            (
                "date_of_birth",
                Box::new(|i| i.date_of_birth = "1990/13/01".into()),
                "birth_date",
            ),
            (
                "date_of_birth",
                Box::new(|i| i.date_of_birth = "2026-11-23".into()),
                "birth_date_range",
            ),
            (
                "subject_email",
                Box::new(|i| {
                    i.requester = "legal_representative".into();
                    i.subject_email = "child@".into();
                }),
                "email",
            ),
        ];
        for (field, mutate, code) in cases {
            let mut input = valid();
            mutate(&mut input);
            let got = codes(&input);
            assert!(
                got.contains(&(field.to_owned(), code.to_owned())),
                "{field}/{code}: got {got:?}"
            );
        }
    }

    #[test]
    fn every_error_comes_back_at_once_even_when_a_choice_does_not_parse() {
        let mut input = valid();
        input.requester = String::new();
        input.delivery = String::new();
        let errors = input
            .parse(Channel::Api, &Policy::appi(), today())
            .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"requester"), "{fields:?}");
        assert!(fields.contains(&"delivery"), "{fields:?}");
    }

    #[test]
    fn the_date_of_birth_is_required_where_records_prove_identity() {
        let mut policy = Policy::appi();
        policy.identity_by_kind.set(
            RequestKind::Disclosure,
            Some(madoguchi_domain::IdentityMethod::CustomerRecord),
        );
        let mut input = valid();
        let errors = input.parse(Channel::Api, &policy, today()).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            (errors[0].field.as_str(), errors[0].code.as_str()),
            ("date_of_birth", "birth_date_required")
        );
        assert!(errors[0].message.contains("生年月日"));
        input.lang = "en".into();
        let errors = input.parse(Channel::Api, &policy, today()).unwrap_err();
        assert!(errors[0].message.contains("date of birth"));
        // Other kinds, and agents (whose requests go to document review), may leave it out.
        input.kind = "correction".into();
        input.current_content = "a".into();
        input.correct_content = "b".into();
        assert!(input.parse(Channel::Api, &policy, today()).is_ok());
        let mut agent = valid();
        agent.requester = "legal_representative".into();
        agent.agent_name = "山田 花子".into();
        agent.agent_kana = "ヤマダ ハナコ".into();
        agent.agent_relationship = "親権者".into();
        agent.subject_email = "taro.child@example.jp".into();
        let new = agent.parse(Channel::Api, &policy, today()).unwrap();
        assert_eq!(
            new.subject_email.map(|e| e.to_string()).as_deref(),
            Some("taro.child@example.jp")
        );
        let mut given = valid();
        given.date_of_birth = "2010-04-01".into();
        let new = given.parse(Channel::Api, &policy, today()).unwrap();
        assert_eq!(new.subject_birth_date, NaiveDate::from_ymd_opt(2010, 4, 1));
    }

    #[test]
    fn messages_follow_the_language() {
        let mut input = valid();
        input.email = "x".into();
        let ja = parse(&input).unwrap_err();
        input.lang = "en".into();
        let en = parse(&input).unwrap_err();
        assert!(ja[0].message.contains("メールアドレス"));
        assert!(en[0].message.contains("e-mail"));
    }
}
