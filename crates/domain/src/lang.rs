//! The language a person reads: Japanese first, English second. One type from the form to the
//! stored request, the pages, the mail and the letters.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The subject's (or staff member's) language: Japanese unless English was chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    /// 日本語.
    #[default]
    Ja,
    /// English.
    En,
}

impl Lang {
    /// `ja` or `en`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// Parses `ja`/`en` (any case); anything else is Japanese, the default.
    pub fn parse(s: &str) -> Lang {
        if s.trim().eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Ja
        }
    }

    /// Whether it is English.
    pub fn is_en(self) -> bool {
        self == Lang::En
    }
}

impl Serialize for Lang {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Lenient, as `parse`: a snapshot stored with an empty or unknown language (mail enqueued by
/// an older release) reads as Japanese rather than failing.
impl<'de> Deserialize<'de> for Lang {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Lang::parse(&String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_spellings_read_back_and_anything_else_is_japanese() {
        for (text, lang) in [
            ("ja", Lang::Ja),
            ("en", Lang::En),
            ("EN", Lang::En),
            (" en ", Lang::En),
            ("", Lang::Ja),
            ("fr", Lang::Ja),
        ] {
            assert_eq!(Lang::parse(text), lang, "{text:?}");
            let json = serde_json::to_string(text).unwrap();
            assert_eq!(serde_json::from_str::<Lang>(&json).unwrap(), lang);
        }
        assert_eq!(serde_json::to_string(&Lang::En).unwrap(), "\"en\"");
        assert_eq!(serde_json::to_string(&Lang::Ja).unwrap(), "\"ja\"");
    }
}
