//! Builds the snapshot a mail template renders from.

use chrono::{DateTime, Utc};
use madoguchi_domain::{self as domain, Lang, Mail, PaymentMethod, Recipient, RefusalGround, Yen};
use madoguchi_mail::MailContext;
use madoguchi_store::entities::request;

/// Where links in e-mail point.
#[derive(Debug, Clone, Copy)]
pub struct MailLinks;

impl MailLinks {
    /// The subject's status page.
    pub fn status(base: &str, pid: uuid::Uuid) -> String {
        format!("{base}/r/{pid}")
    }

    /// The confirmation page for a token.
    pub fn confirm(base: &str, token: &str) -> String {
        format!("{base}/confirm/{token}")
    }

    /// An owner's task page for a token.
    pub fn owner(base: &str, token: &str) -> String {
        format!("{base}/owner/{token}")
    }

    /// The staff view of a request.
    pub fn staff(base: &str, pid: uuid::Uuid) -> String {
        format!("{base}/staff/requests/{pid}")
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Extra {
    pub confirm_nonce: Option<String>,
    pub duplicate_of: Option<String>,
    pub message: Option<String>,
    pub amount: Option<Yen>,
    pub receipt_number: Option<String>,
    pub payment_method: Option<PaymentMethod>,
    pub grounds: Vec<RefusalGround>,
    pub code_nonce: Option<String>,
    /// A detailed answer, shown line by line in the closing mail.
    pub answer: Option<domain::Recorded>,
    /// The incident the request cites (Art. 35(5)): its number and the day it became known,
    /// named first in the closing mail.
    pub incident: Option<(String, chrono::NaiveDate)>,
}

/// Who writes the mail: the business, and where its links point.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Office<'a> {
    pub base_url: &'a str,
    pub business: &'a crate::settings::BusinessDetails,
    /// Whether a payment link can be offered.
    pub card_payments: bool,
    /// How to pay without a card.
    pub payment: &'a crate::settings::PaymentInstructions,
    /// How long, and how often, an answer can be downloaded.
    pub retention: &'a crate::settings::Retention,
    /// Colour, links and phone.
    pub branding: &'a crate::settings::Branding,
}

pub(crate) fn build(
    office: Office<'_>,
    row: &request::Model,
    next: &domain::Request,
    mail: Mail,
    to: Recipient,
    extra: &Extra,
    now: DateTime<Utc>,
) -> MailContext {
    let staff = to == Recipient::Staff;
    let lang = if staff {
        Lang::Ja
    } else {
        Lang::parse(&row.lang)
    };
    let en = lang.is_en();
    let recipient_name = if staff {
        if en {
            "Privacy office".to_owned()
        } else {
            "個人情報窓口ご担当者".to_owned()
        }
    } else {
        crate::Agent::addressee(row)
    };
    // A letter to a requester without an e-mail address: no page to open (its codes would
    // go by e-mail), no card payment.
    let postal = !staff && crate::intake::email_of(row).is_none();
    let link = if staff {
        crate::MailLinks::staff(office.base_url, row.pid)
    } else if mail == Mail::ConfirmAddress || postal {
        // Filled in by the sender from the nonce, so the outbox never holds a usable link.
        String::new()
    } else {
        crate::MailLinks::status(office.base_url, row.pid)
    };
    let fmt_time = |t: DateTime<Utc>| domain::written_time(t, en);
    let amount = match mail {
        Mail::IdentityApproved | Mail::PaymentRequested | Mail::ExpiryWarning => {
            let due = next.amount_due();
            if due > Yen::ZERO {
                due.to_string()
            } else {
                String::new()
            }
        }
        Mail::Withdrawn | Mail::Refunded | Mail::PaymentReceived | Mail::StaffPaymentReceived => {
            extra.amount.map(|a| a.to_string()).unwrap_or_default()
        }
        _ => String::new(),
    };
    MailContext {
        lang,
        business_name: office.business.name.clone(),
        business_contact: office.business.contact.clone(),
        business_phone: office.branding.phone.clone(),
        business_hours: office.branding.hours.clone(),
        privacy_url: office.branding.privacy_url.clone(),
        brand_colour: office.branding.colour.clone(),
        recipient_name,
        number: row.number.clone(),
        kind_ja: next.kind.label_ja().to_owned(),
        kind_en: next.kind.label_en().to_owned(),
        state_ja: next.state.label_ja().to_owned(),
        state_en: next.state.label_en().to_owned(),
        link,
        confirm_nonce: if mail == Mail::ConfirmAddress {
            extra.confirm_nonce.clone()
        } else {
            None
        },
        link_expires: next.expires_at.map(fmt_time).unwrap_or_default(),
        due_on: domain::written_date(next.due_on, en),
        reply_by: next.expires_at.map(fmt_time).unwrap_or_default(),
        amount,
        message: if staff {
            String::new()
        } else {
            extra.message.clone().unwrap_or_default()
        },
        grounds_ja: extra
            .grounds
            .iter()
            .map(|g| format!("{}（{}）", g.label_ja(), g.article()))
            .collect(),
        grounds_en: extra
            .grounds
            .iter()
            .map(|g| format!("{} ({})", g.label_en(), g.article()))
            .collect(),
        duplicate_of: extra.duplicate_of.clone(),
        receipt_number: extra.receipt_number.clone().unwrap_or_default(),
        payment_method: extra
            .payment_method
            .map(|m| m.label(en).to_owned())
            .unwrap_or_default(),
        today: domain::written_date(domain::jst_date(now), en),
        download: row.delivery.as_deref() == Some("electronic"),
        // The answer mail says until when and how often the answer can be downloaded.
        download_until: if mail == Mail::Completed && row.delivery.as_deref() == Some("electronic")
        {
            domain::written_date(
                domain::jst_date(now)
                    + chrono::Duration::days(i64::from(office.retention.download_days)),
                en,
            )
        } else {
            String::new()
        },
        download_limit: office.retention.download_limit,
        code_nonce: if mail == Mail::AccessCode {
            extra.code_nonce.clone()
        } else {
            None
        },
        code: String::new(),
        system_name: String::new(),
        owner_nonce: None,
        answer_lines: match (&extra.answer, mail) {
            (Some(a), Mail::Completed | Mail::Refused) if !staff => a.lines(en),
            _ => Vec::new(),
        },
        incident_line: match (&extra.incident, mail, staff) {
            (Some((number, aware_on)), Mail::Completed | Mail::Refused, false) => {
                let day = domain::written_date(*aware_on, en);
                if en {
                    format!("reference {number} (known to us on {day})")
                } else {
                    format!("整理番号 {number}（{day}に当社が把握）")
                }
            }
            _ => String::new(),
        },
        // After the transition, so a change of method is told as the new method.
        delivery_ja: match next.delivery {
            Some(domain::DeliveryMethod::Paper) => "書面の交付（郵送）".into(),
            Some(domain::DeliveryMethod::Electronic) => "電磁的記録の提供（ダウンロード）".into(),
            None => String::new(),
        },
        delivery_en: match next.delivery {
            Some(domain::DeliveryMethod::Paper) => "paper, by post".into(),
            Some(domain::DeliveryMethod::Electronic) => "electronic (download)".into(),
            None => String::new(),
        },
        // Only a recipient's letter (built by the tasks) tells a stop of provision.
        provision_stopped: false,
        payment_lines: if matches!(mail, Mail::PaymentRequested | Mail::ExpiryWarning)
            && next.amount_due() > Yen::ZERO
        {
            office
                .payment
                .offered()
                .into_iter()
                .map(|(ja, en_name, text)| {
                    // One line: the mail's text part keeps it together.
                    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                    format!("{}: {text}", if en { en_name } else { ja })
                })
                .collect()
        } else {
            Vec::new()
        },
        pay_link: if matches!(mail, Mail::PaymentRequested | Mail::ExpiryWarning)
            && next.amount_due() > Yen::ZERO
            && office.card_payments
            && !postal
        {
            format!("{}/r/{}/pay", office.base_url, row.pid)
        } else {
            String::new()
        },
    }
}
