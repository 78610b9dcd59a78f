//! The wording of a notice sent as a letter, for a requester without an e-mail address. A
//! letter is not a mail on paper: it has a subject line (件名), an opening, the particulars
//! under 記, and no links (there is no page the requester can open without e-mail).

use madoguchi_domain::Mail;

use crate::MailContext;

/// A notice's text, laid out by the printable page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterText {
    /// 件名.
    pub title: String,
    /// The body's paragraphs, after the salutation.
    pub paragraphs: Vec<String>,
    /// The particulars (記): label and value.
    pub items: Vec<(String, String)>,
}

/// The letter for `mail`, or `None` for a notice that is never posted (`Mail::by_post`).
pub fn letter(mail: Mail, c: &MailContext) -> Option<LetterText> {
    if !mail.by_post() {
        return None;
    }
    let en = c.is_en();
    let t = |ja: &str, en_text: &str| {
        if en {
            en_text.to_owned()
        } else {
            ja.to_owned()
        }
    };
    let kind = if en { &c.kind_en } else { &c.kind_ja };
    let mut items = if mail == Mail::IncidentNotice {
        vec![(t("整理番号", "Reference"), c.number.clone())]
    } else {
        vec![
            (t("受付番号", "Request number"), c.number.clone()),
            (t("請求の種類", "Request"), kind.clone()),
        ]
    };
    let mut item = |ja: &str, en_label: &str, value: &str| {
        if !value.trim().is_empty() {
            items.push((t(ja, en_label), value.to_owned()));
        }
    };
    if matches!(mail, Mail::Completed | Mail::Refused) {
        item(
            "ご請求の理由とされた漏えい等の事態",
            "The incident your request cites",
            &c.incident_line,
        );
    }
    let (title, paragraphs) = match mail {
        Mail::IdentityMoreNeeded => {
            item("ご提出いただく書類", "Documents needed", &c.message);
            item("提出期限", "Send them by", &c.reply_by);
            (
                t(
                    "本人確認書類のご提出のお願い",
                    "Documents needed to confirm your identity",
                ),
                vec![t(
                    "ご請求を進めるにあたり、ご本人であることを確認するため、下記の書類の写しを当社窓口までご郵送ください。期限までにご提出がない場合、ご請求は失効いたします。",
                    "To go on with your request we need to confirm your identity. Please post copies of the documents below to our desk. If they do not reach us by the date below, the request lapses.",
                )],
            )
        }
        Mail::IdentityRejected => {
            item("理由", "Reason", &c.message);
            (
                t(
                    "ご請求についてのご通知（本人確認）",
                    "Your request: identity could not be confirmed",
                ),
                vec![t(
                    "ご提出いただいた書類ではご本人であることを確認できなかったため、ご請求に応じることができません。改めてご請求いただくことができます。",
                    "We could not confirm your identity from the documents you sent, so we cannot act on this request. You may file it again.",
                )],
            )
        }
        Mail::PaymentRequested => {
            item("手数料", "Fee", &c.amount);
            for line in &c.payment_lines {
                let (method, how) = line.split_once(": ").unwrap_or(("", line));
                item(method, method, how);
            }
            item("お支払い期限", "Pay by", &c.reply_by);
            (
                t("手数料のお支払いのお願い", "Fee for your request"),
                vec![t(
                    "個人情報の保護に関する法律第38条に基づき、ご請求の手数料を下記のとおりお支払いくださいますようお願い申し上げます。期限までにお支払いがない場合、ご請求は失効いたします。",
                    "Under APPI Art. 38 a fee applies to your request. Please pay it as set out below. If it is not paid by the date below, the request lapses.",
                )],
            )
        }
        Mail::InfoNeeded => {
            item(
                "お知らせいただきたい事項",
                "What we need to know",
                &c.message,
            );
            item("回答期限", "Answer by", &c.reply_by);
            (
                t(
                    "ご請求内容の確認のお願い",
                    "Please tell us more about your request",
                ),
                vec![t(
                    "ご請求の対象となる保有個人データを特定するため、下記の事項について、書面にて当社窓口までお知らせください（法第37条第2項）。お知らせいただくまでの間、回答期限の進行を停止いたします。",
                    "To identify the data your request concerns, please tell us the following in writing (APPI Art. 37(2)). Until you answer, the time for our answer stands still.",
                )],
            )
        }
        Mail::DeadlineExtended => {
            item("回答期限", "New date for the answer", &c.due_on);
            item("理由", "Reason", &c.message);
            (
                t("回答期限の延長について", "The date of our answer"),
                vec![t(
                    "ご請求への回答期限を、下記のとおり延長させていただきます。",
                    "We extend the date by which we answer your request, as set out below.",
                )],
            )
        }
        Mail::DeliveryChanged => {
            item(
                "開示の方法",
                "How it will be delivered",
                if en { &c.delivery_en } else { &c.delivery_ja },
            );
            item("理由", "Reason", &c.message);
            (
                t(
                    "開示の方法についてのご通知",
                    "How your data will be delivered",
                ),
                vec![t(
                    "ご請求いただいた方法による開示が困難であるため、下記の方法により開示いたします（法第33条第2項・第3項）。",
                    "Delivering your data the way you asked is impractical, so we will deliver it as set out below (APPI Art. 33(2), (3)).",
                )],
            )
        }
        Mail::Completed | Mail::Refused => {
            let refused = mail == Mail::Refused;
            item("結果", "Result", if en { &c.state_en } else { &c.state_ja });
            for (i, line) in c.answer_lines.iter().enumerate() {
                // The answer's lines under one label.
                if i == 0 {
                    item("回答の内容", "Our answer", line);
                } else {
                    item("", "", line);
                }
            }
            for g in if en { &c.grounds_en } else { &c.grounds_ja } {
                item(
                    if refused {
                        "理由"
                    } else {
                        "一部に応じられない理由"
                    },
                    if refused {
                        "Ground"
                    } else {
                        "Ground for the part not granted"
                    },
                    g,
                );
            }
            item("ご連絡事項", "Note", &c.message);
            (
                t(
                    &format!("{}のご請求について（ご通知）", c.kind_ja),
                    &format!("Your request: {}", c.kind_en.to_lowercase()),
                ),
                vec![if refused {
                    t(
                        "ご請求について検討いたしました結果、下記の理由により、ご請求に応じることができないとの決定をいたしましたので、ご通知いたします。",
                        "We have considered your request and decided that we cannot grant it, for the reasons below.",
                    )
                } else {
                    t(
                        "ご請求について、下記のとおり対応いたしましたので、ご通知いたします。",
                        "We have dealt with your request as set out below.",
                    )
                }],
            )
        }
        Mail::Expired => (
            t("ご請求の失効について", "Your request has lapsed"),
            vec![t(
                "期限までにご対応をいただけなかったため、ご請求は失効いたしました。改めてご請求いただくことができます。",
                "As we did not hear from you in time, your request has lapsed. You may file it again.",
            )],
        ),
        Mail::Refunded => {
            item("返金額", "Amount", &c.amount);
            (
                t("手数料のご返金について", "Refund of the fee"),
                vec![t(
                    "お支払いいただいた手数料を、下記のとおりご返金いたします。",
                    "We refund the fee you paid, as set out below.",
                )],
            )
        }
        Mail::IncidentNotice => {
            // Each item told is written `【label】` then its text (the mail's lines).
            for l in &c.answer_lines {
                let (label, text) = l.split_once('\n').unwrap_or((l.as_str(), ""));
                let label = label.trim_matches(|ch| matches!(ch, '【' | '】' | '[' | ']'));
                item(label, label, text);
            }
            (
                t(
                    "個人情報の漏えい等に関するお知らせとお詫び",
                    "A notice and our apology about your personal information",
                ),
                vec![t(
                    "このたび、当社が取り扱う皆様の個人情報について、漏えい等の事態が発生いたしました（発生したおそれがある場合を含みます）。皆様には多大なるご迷惑とご心配をおかけいたしましたことを、心より深くお詫び申し上げます。個人情報保護法第26条第2項に基づき、下記のとおりお知らせいたします。当社は、再発防止のための措置を講じてまいります。",
                    "Personal information about you that we handle has leaked, been lost or been damaged, or may have been. We sincerely apologise for the trouble and worry this causes you. As the Act on the Protection of Personal Information requires (Art. 26(2)), we tell you what is set out below. We are taking measures to prevent this from happening again.",
                )],
            )
        }
        _ => return None,
    };
    Some(LetterText {
        title,
        paragraphs,
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(lang: &str) -> MailContext {
        MailContext {
            lang: madoguchi_domain::Lang::parse(lang),
            number: "R-2026-000042".into(),
            kind_ja: "保有個人データの開示".into(),
            kind_en: "Disclosure".into(),
            amount: "¥3,000".into(),
            reply_by: "2026年12月15日（火）18時00分".into(),
            payment_lines: vec![
                "銀行振込: みずほ銀行 本店 普通 1234567".into(),
                "定額小為替: 〒100-0001 東京都千代田区1-1 個人情報窓口".into(),
            ],
            pay_link: String::new(),
            ..MailContext::default()
        }
    }

    #[test]
    fn a_fee_letter_lists_each_way_to_pay_and_the_date() {
        let l = letter(Mail::PaymentRequested, &ctx("ja")).unwrap();
        assert_eq!(l.title, "手数料のお支払いのお願い");
        assert_eq!(
            l.items,
            [
                ("受付番号".to_owned(), "R-2026-000042".to_owned()),
                ("請求の種類".to_owned(), "保有個人データの開示".to_owned()),
                ("手数料".to_owned(), "¥3,000".to_owned()),
                (
                    "銀行振込".to_owned(),
                    "みずほ銀行 本店 普通 1234567".to_owned()
                ),
                (
                    "定額小為替".to_owned(),
                    "〒100-0001 東京都千代田区1-1 個人情報窓口".to_owned()
                ),
                (
                    "お支払い期限".to_owned(),
                    "2026年12月15日（火）18時00分".to_owned()
                ),
            ]
        );
        // No link, no card: a letter's reader has no page to open.
        assert!(!l.paragraphs.concat().contains("http"));
    }

    /// Every letter in both languages, as read and approved: 件名, the body, the 記 items.
    #[test]
    fn every_letter_reads_as_reviewed() {
        for mail in Mail::ALL.into_iter().filter(|m| m.by_post()) {
            for lang in ["ja", "en"] {
                let l = letter(mail, &crate::sample_for(mail, lang)).unwrap();
                let items: Vec<String> = l.items.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                insta::assert_snapshot!(
                    format!("letter-{}-{lang}", mail.as_str()),
                    format!(
                        "件名: {}\n\n{}\n\n記\n{}\n以上",
                        l.title,
                        l.paragraphs.join("\n\n"),
                        items.join("\n")
                    )
                );
            }
        }
    }

    #[test]
    fn the_result_title_names_the_kind_once() {
        let l = letter(Mail::Completed, &ctx("ja")).unwrap();
        assert_eq!(l.title, "保有個人データの開示のご請求について（ご通知）");
        let en = letter(Mail::Completed, &ctx("en")).unwrap();
        assert_eq!(en.title, "Your request: disclosure");
        assert_eq!(en.items[0].0, "Request number");
    }

    #[test]
    fn progress_notices_are_not_posted() {
        for m in [
            Mail::IdentityApproved,
            Mail::AddressConfirmed,
            Mail::AccessCode,
        ] {
            assert!(letter(m, &ctx("ja")).is_none(), "{m:?}");
        }
    }
}
