//! The fee schedule (手数料, APPI Art. 38). JPY has no minor unit: `Yen(3000)` is ¥3,000.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::kind::RequestKind;

/// An amount of Japanese yen. Zero-decimal, like Stripe's `jpy`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Yen(pub i64);

impl Yen {
    /// No fee.
    pub const ZERO: Yen = Yen(0);

    /// The seed policy's fee for each disclosure request.
    pub const DEFAULT_DISCLOSURE_FEE: Yen = Yen(3_000);

    /// The highest fee accepted. Art. 38(2) allows only an amount reasonable in view of the
    /// actual cost; disclosure fees in Japan are a few hundred to a few thousand yen, so
    /// anything above ¥100,000 is a typing error, not a policy.
    pub const MAXIMUM_FEE: Yen = Yen(100_000);
}

impl fmt::Display for Yen {
    /// Formats as `¥3,000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.unsigned_abs().to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}¥{grouped}")
    }
}

/// Why a fee schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeError {
    /// Art. 38 allows fees only for purpose notification and disclosure.
    #[error("APPI Art. 38 allows no fee for {0:?} requests")]
    NotAllowed(RequestKind),
    /// Fees are not negative.
    #[error("a fee cannot be negative")]
    Negative,
    /// Card payments below Stripe's JPY minimum would fail; set ¥0 or at least ¥50.
    #[error("a fee must be ¥0 or at least ¥50")]
    BelowMinimum,
    /// Above [`Yen::MAXIMUM_FEE`]: no reasonable fee under Art. 38(2) is that high.
    #[error("a fee must be at most ¥100,000 (APPI Art. 38(2): a reasonable amount)")]
    AboveMaximum,
}

/// Fee per request kind. Kinds not listed cost nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeSchedule {
    fees: BTreeMap<RequestKind, Yen>,
}

impl Default for FeeSchedule {
    /// The seed policy: ¥3,000 for each disclosure request, nothing for the rest.
    fn default() -> Self {
        let fees = BTreeMap::from([
            (RequestKind::Disclosure, Yen::DEFAULT_DISCLOSURE_FEE),
            (
                RequestKind::ThirdPartyRecordDisclosure,
                Yen::DEFAULT_DISCLOSURE_FEE,
            ),
        ]);
        FeeSchedule { fees }
    }
}

impl FeeSchedule {
    /// The default fees of a jurisdiction: APPI lets the business charge a reasonable fee for
    /// disclosures (Art. 38; the seed's ¥3,000); the GDPR answers free of charge (Art. 12(5))
    /// and the CCPA without charge (Cal. Civ. Code §1798.100(d), §1798.130(a)(2)).
    pub fn for_jurisdiction(j: crate::policy::Jurisdiction) -> Self {
        match j {
            crate::policy::Jurisdiction::Appi => FeeSchedule::default(),
            crate::policy::Jurisdiction::Gdpr | crate::policy::Jurisdiction::Ccpa => {
                FeeSchedule::free()
            }
        }
    }

    /// A schedule with no fees at all.
    pub fn free() -> Self {
        FeeSchedule {
            fees: BTreeMap::new(),
        }
    }

    /// The fee for a kind.
    pub fn fee(&self, kind: RequestKind) -> Yen {
        self.fees.get(&kind).copied().unwrap_or(Yen::ZERO)
    }

    /// Sets a fee, refusing what the APPI does not allow.
    pub fn set(&mut self, kind: RequestKind, fee: Yen) -> Result<(), FeeError> {
        if fee.0 < 0 {
            return Err(FeeError::Negative);
        }
        // The statutory refusal comes first: no amount makes a fee lawful on these kinds.
        if fee.0 > 0 && !kind.fee_allowed_under_appi() {
            return Err(FeeError::NotAllowed(kind));
        }
        if fee.0 > 0 && fee.0 < 50 {
            return Err(FeeError::BelowMinimum);
        }
        if fee > Yen::MAXIMUM_FEE {
            return Err(FeeError::AboveMaximum);
        }
        if fee == Yen::ZERO {
            self.fees.remove(&kind);
        } else {
            self.fees.insert(kind, fee);
        }
        Ok(())
    }

    /// Checks a schedule that came from outside (configuration, database).
    pub fn validate(&self) -> Result<(), FeeError> {
        let mut checked = FeeSchedule::free();
        for (kind, fee) in &self.fees {
            checked.set(*kind, *fee)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_above_the_maximum_are_refused() {
        let mut s = FeeSchedule::default();
        assert_eq!(s.set(RequestKind::Disclosure, Yen(100_000)), Ok(()));
        assert_eq!(
            s.set(RequestKind::Disclosure, Yen(100_001)),
            Err(FeeError::AboveMaximum)
        );
        assert_eq!(
            s.set(RequestKind::Disclosure, Yen(i64::MAX)),
            Err(FeeError::AboveMaximum)
        );
    }

    #[test]
    fn default_is_the_seed_policy() {
        let s = FeeSchedule::default();
        assert_eq!(s.fee(RequestKind::Disclosure), Yen(3000));
        assert_eq!(s.fee(RequestKind::ThirdPartyRecordDisclosure), Yen(3000));
        for kind in [
            RequestKind::PurposeNotification,
            RequestKind::Correction,
            RequestKind::SuspensionOrErasure,
            RequestKind::ThirdPartyStop,
        ] {
            assert_eq!(s.fee(kind), Yen::ZERO);
        }
    }

    #[test]
    fn appi_refuses_fees_on_correction_and_suspension() {
        let mut s = FeeSchedule::default();
        for kind in [
            RequestKind::Correction,
            RequestKind::SuspensionOrErasure,
            RequestKind::ThirdPartyStop,
        ] {
            assert_eq!(s.set(kind, Yen(500)), Err(FeeError::NotAllowed(kind)));
            assert_eq!(s.set(kind, Yen::ZERO), Ok(()));
        }
        assert_eq!(s.set(RequestKind::PurposeNotification, Yen(300)), Ok(()));
        assert_eq!(
            s.set(RequestKind::Disclosure, Yen(-1)),
            Err(FeeError::Negative)
        );
        assert_eq!(
            s.set(RequestKind::Disclosure, Yen(10)),
            Err(FeeError::BelowMinimum)
        );
    }

    #[test]
    fn yen_formats_with_separators() {
        assert_eq!(Yen(3000).to_string(), "¥3,000");
        assert_eq!(Yen(0).to_string(), "¥0");
        assert_eq!(Yen(1_234_567).to_string(), "¥1,234,567");
        assert_eq!(Yen(-300).to_string(), "-¥300");
    }
}
