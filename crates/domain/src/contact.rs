//! Contact details parsed at the boundary: e-mail addresses, furigana, phone numbers.
//! Each parser returns a value that is valid by construction.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A syntactically valid e-mail address of sensible length.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

/// Why an input was refused. The web layer words it in the subject's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ContactError {
    /// Not an e-mail address.
    #[error("not an e-mail address")]
    Email,
    /// Not written in kana.
    #[error("not kana")]
    Kana,
    /// Not a phone number.
    #[error("not a phone number")]
    Phone,
    /// Not a date of birth written `YYYY-MM-DD`.
    #[error("not a date of birth (YYYY-MM-DD)")]
    BirthDate,
    /// A date of birth after today, or implausibly long ago.
    #[error("the date of birth is out of range")]
    BirthDateRange,
}

impl EmailAddress {
    /// Accepts `local@domain` where the domain has a dot, both parts are within RFC 5321
    /// lengths, and nothing could break a mail header (no spaces, control characters, commas,
    /// angle brackets or quotes).
    pub fn parse(input: &str) -> Result<Self, ContactError> {
        let s = input.trim();
        if s.len() > 254 || s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(ContactError::Email);
        }
        let (local, domain) = s.rsplit_once('@').ok_or(ContactError::Email)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let domain_ok = domain.len() <= 253
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !(local_ok && domain_ok) {
            return Err(ContactError::Email);
        }
        if domain.is_ascii() {
            return Ok(EmailAddress(s.to_owned()));
        }
        // An internationalised domain is kept in its ASCII form (IDNA), the only form a mail
        // header can carry; one UTS 46 cannot map is refused like any other bad address.
        let ascii = idna::domain_to_ascii_strict(domain).map_err(|_| ContactError::Email)?;
        if ascii.len() > 253 || local.len() + 1 + ascii.len() > 254 {
            return Err(ContactError::Email);
        }
        Ok(EmailAddress(format!("{local}@{ascii}")))
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Lower-cased form used to recognise the same person's requests.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = ContactError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        EmailAddress::parse(&s)
    }
}

impl From<EmailAddress> for String {
    fn from(e: EmailAddress) -> String {
        e.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks furigana (フリガナ): katakana or hiragana, with spaces and the long-vowel mark.
pub fn parse_kana(input: &str) -> Result<String, ContactError> {
    let s = input.trim();
    let ok = !s.is_empty()
        && s.chars().all(|c| {
            matches!(c, '\u{3041}'..='\u{3096}' | '\u{30A1}'..='\u{30FA}' | 'ー' | '・' | ' ' | '\u{3000}' | 'ゝ' | 'ゞ' | 'ヽ' | 'ヾ')
        });
    if ok {
        Ok(s.to_owned())
    } else {
        Err(ContactError::Kana)
    }
}

/// Checks a phone number: digits with optional `+`, hyphens, spaces and parentheses,
/// 8 to 15 digits in all (ITU E.164).
pub fn parse_phone(input: &str) -> Result<String, ContactError> {
    let s = input.trim();
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let shape = s.chars().enumerate().all(|(i, c)| {
        c.is_ascii_digit() || matches!(c, '-' | ' ' | '(' | ')') || (c == '+' && i == 0)
    });
    if shape && (8..=15).contains(&digits) {
        Ok(s.to_owned())
    } else {
        Err(ContactError::Phone)
    }
}

/// Parses a date of birth as people write it: `1990-04-01` (what a date input sends),
/// `1990/4/1` or `1990年4月1日`, full-width digits too (a browser without a date picker leaves
/// the person to type). The year has four digits; the date must exist, be on or before
/// `today` and not before 1900. Era names (昭和…) are not read: the form asks for the
/// Western year.
pub fn parse_birth_date(input: &str, today: NaiveDate) -> Result<NaiveDate, ContactError> {
    use unicode_normalization::UnicodeNormalization;
    let s: String = input.trim().nfkc().collect();
    // Exactly one of three shapes: `Y年M月D日` (日 may be left off), `Y-M-D`, `Y/M/D`.
    let parts: Option<(&str, &str, &str)> = if let Some((y, rest)) = s.split_once('年') {
        rest.split_once('月')
            .map(|(m, d)| (y, m, d.strip_suffix('日').unwrap_or(d)))
    } else {
        ['-', '/'].into_iter().find_map(|sep| {
            let mut it = s.split(sep);
            match (it.next(), it.next(), it.next(), it.next()) {
                (Some(y), Some(m), Some(d), None) => Some((y, m, d)),
                _ => None,
            }
        })
    };
    let Some((y, m, d)) = parts else {
        return Err(ContactError::BirthDate);
    };
    let digits = |p: &str, len: std::ops::RangeInclusive<usize>| {
        len.contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit())
    };
    if !(digits(y, 4..=4) && digits(m, 1..=2) && digits(d, 1..=2)) {
        return Err(ContactError::BirthDate);
    }
    let number = |p: &str| p.parse::<u32>().map_err(|_| ContactError::BirthDate);
    let year = i32::try_from(number(y)?).map_err(|_| ContactError::BirthDate)?;
    let date =
        NaiveDate::from_ymd_opt(year, number(m)?, number(d)?).ok_or(ContactError::BirthDate)?;
    let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).expect("a valid date");
    if date > today || date < earliest {
        return Err(ContactError::BirthDateRange);
    }
    Ok(date)
}

/// A name reduced to what matching compares: Unicode NFKC (full-width Latin and digits become
/// half-width, half-width katakana becomes full-width), every kind of space removed, Latin
/// letters lower-cased. So `山田 太郎`, `山田　太郎` and `山田太郎` are one name, as are
/// `ＹＡＭＡＤＡ Taro` and `yamada taro`. Variant kanji (髙/高, 﨑/崎) are not folded: they
/// are different characters, and a customer record that differs that way falls back to review.
pub fn normalize_name(input: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    input
        .nfkc()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_ordinary_addresses() {
        for ok in [
            "taro@example.jp",
            "hanako.yamada+dsar@mail.example.co.jp",
            "a@b.co",
        ] {
            assert!(EmailAddress::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn internationalised_domains_are_kept_in_ascii() {
        // IANA's IDN test domain 例え.テスト is xn--r8jz45g.xn--zckzah (RFC 2606 era tables).
        assert_eq!(
            EmailAddress::parse("taro@例え.テスト").unwrap().as_str(),
            "taro@xn--r8jz45g.xn--zckzah"
        );
        assert_eq!(
            EmailAddress::parse("taro@例え.jp").unwrap().as_str(),
            "taro@xn--r8jz45g.jp"
        );
        assert!(EmailAddress::parse("taro@ex\u{200b}ample.jp").is_err());
    }

    #[test]
    fn refuses_malformed_and_header_breaking_addresses() {
        for bad in [
            "",
            "taro",
            "taro@",
            "@example.jp",
            "taro@localhost",
            "taro@@example.jp",
            "taro@example.jp\r\nBcc: x@y.z",
            "taro <t@example.jp>",
            "ta ro@example.jp",
            ".taro@example.jp",
            "taro..x@example.jp",
            "taro@-example.jp",
            "t,aro@example.jp",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn kana_and_phone() {
        assert!(parse_kana("ヤマダ タロウ").is_ok());
        assert!(parse_kana("やまだ　はなこ").is_ok());
        assert!(parse_kana("山田").is_err());
        assert!(parse_kana("Yamada").is_err());
        assert!(parse_phone("03-1234-5678").is_ok());
        assert!(parse_phone("+81 90 1234 5678").is_ok());
        assert!(parse_phone("12-34").is_err());
        assert!(parse_phone("03-1234-5678; DROP").is_err());
    }

    #[test]
    fn names_fold_spaces_and_widths() {
        let same = ["山田 太郎", "山田　太郎", "山田太郎", " 山田\t太郎 "];
        for s in same {
            assert_eq!(normalize_name(s), "山田太郎", "{s:?}");
        }
        assert_eq!(normalize_name("ＹＡＭＡＤＡ Ｔａｒｏ"), "yamadataro");
        assert_eq!(normalize_name("ﾔﾏﾀﾞ ﾀﾛｳ"), "ヤマダタロウ");
        assert_ne!(normalize_name("髙橋"), normalize_name("高橋"));
    }

    #[test]
    fn birth_dates_are_strict() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        assert_eq!(
            parse_birth_date(" 2010-04-01 ", today),
            Ok(NaiveDate::from_ymd_opt(2010, 4, 1).unwrap())
        );
        assert_eq!(parse_birth_date("2026-11-22", today).map(|_| ()), Ok(()));
        // As people write it.
        let april = NaiveDate::from_ymd_opt(2010, 4, 1).unwrap();
        for written in [
            "2010/04/01",
            "2010/4/1",
            "2010-4-1",
            "2010年4月1日",
            "２０１０年４月１日",
            "2010年04月01日",
        ] {
            assert_eq!(parse_birth_date(written, today), Ok(april), "{written:?}");
        }
        for bad in [
            "",
            "+2010-04-01",
            "2010-02-30",
            "20100-04-01",
            "10-04-01",
            "2010-004-01",
            "2010/04-01",
            "2010年4-1",
            "2010年4月",
            "2010-04-01-02",
            "昭和60年4月1日",
            "1990/13/01",
            "2010月4年1日",
            "2010-4-1日",
            "2010年4月1日日",
        ] {
            assert_eq!(
                parse_birth_date(bad, today),
                Err(ContactError::BirthDate),
                "{bad:?}"
            );
        }
        for far in ["2026-11-23", "1899-12-31"] {
            assert_eq!(
                parse_birth_date(far, today),
                Err(ContactError::BirthDateRange),
                "{far:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn spaces_and_widths_never_change_a_name(
            name in "[山田太郎花子佐藤ヤマダタロウやまだa-zA-Z]{1,8}",
            cuts in proptest::collection::vec((0usize..8, 0usize..3), 0..4),
            wide in any::<bool>(),
        ) {
            let mut spaced: Vec<char> = name.chars().collect();
            for (at, which) in cuts {
                let space = [' ', '\u{3000}', '\t'][which];
                spaced.insert(at.min(spaced.len()), space);
            }
            let mut spaced: String = spaced.into_iter().collect();
            if wide {
                // Full-width Latin letters, as some Japanese keyboards type them.
                spaced = spaced
                    .chars()
                    .map(|c| if c.is_ascii_alphabetic() {
                        char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c)
                    } else {
                        c
                    })
                    .collect();
            }
            prop_assert_eq!(normalize_name(&spaced), normalize_name(&name));
        }

        #[test]
        fn generated_valid_addresses_parse(
            local in "[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]",
            domain in "[a-z0-9]{1,10}(\\.[a-z]{2,6}){1,3}",
        ) {
            prop_assume!(!local.contains(".."));
            let addr = format!("{local}@{domain}");
            let parsed = EmailAddress::parse(&addr).unwrap();
            prop_assert_eq!(parsed.as_str(), addr.as_str());
        }

        #[test]
        fn no_parsed_address_can_inject_a_header(s in "\\PC{0,40}") {
            if let Ok(e) = EmailAddress::parse(&s) {
                prop_assert!(!e.as_str().contains(['\r', '\n', ',', '<', '>', ' ', '"']));
            }
        }
    }
}
