//! The payment ledger: what each payment row is. One type, with one spelling per kind for the
//! database ([`LedgerKind::as_db`] / [`LedgerKind::parse`]) and words for people
//! ([`LedgerKind::label`]); nothing else branches on the stored strings.

use std::fmt;

use crate::event::RefundReason;

/// Why a refund is owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundDue {
    /// More than the fee arrived.
    Overpayment,
    /// Withdrawn before work started.
    WithdrawnBeforeWork,
    /// Refused before work started.
    RefusedBeforeWork,
    /// A flagged card payment an officer decided to send back.
    FlaggedPayment,
}

impl From<RefundReason> for RefundDue {
    fn from(r: RefundReason) -> Self {
        match r {
            RefundReason::Overpayment => RefundDue::Overpayment,
            RefundReason::WithdrawnBeforeWork => RefundDue::WithdrawnBeforeWork,
            RefundReason::RefusedBeforeWork => RefundDue::RefusedBeforeWork,
        }
    }
}

/// Why a card payment was not accepted as the fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlagReason {
    /// The request was not waiting for payment (paid already, withdrawn, closed).
    NotAwaitingPayment,
    /// The amount or the currency was not the fee's.
    AmountOrCurrencyMismatch,
}

impl FlagReason {
    /// The reason's name in the audit trail (`payment.flagged`'s `reason`).
    pub fn as_str(self) -> &'static str {
        match self {
            FlagReason::NotAwaitingPayment => "not_awaiting_payment",
            FlagReason::AmountOrCurrencyMismatch => "amount_or_currency_mismatch",
        }
    }
}

/// What a payment row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LedgerKind {
    /// A card checkout was opened (no money yet).
    Checkout,
    /// The fee, received.
    Payment,
    /// Money to go back, not yet sent.
    RefundDue(RefundDue),
    /// A card refund being sent (claimed by one instance).
    RefundProcessing,
    /// A card refund with no card payment to send it to: an officer pays it back by hand.
    RefundManual,
    /// A card refund the provider accepted.
    RefundSent,
    /// A card refund the provider confirmed.
    RefundDone,
    /// An offline refund an officer recorded as paid back.
    RefundRecorded,
    /// A card payment not accepted as the fee, for an officer to decide on.
    Flagged(FlagReason),
    /// A flagged payment whose refund was ordered.
    FlaggedRefunded,
}

impl LedgerKind {
    /// Every kind, for tests and exhaustive tables.
    pub const ALL: [LedgerKind; 14] = [
        LedgerKind::Checkout,
        LedgerKind::Payment,
        LedgerKind::RefundDue(RefundDue::Overpayment),
        LedgerKind::RefundDue(RefundDue::WithdrawnBeforeWork),
        LedgerKind::RefundDue(RefundDue::RefusedBeforeWork),
        LedgerKind::RefundDue(RefundDue::FlaggedPayment),
        LedgerKind::RefundProcessing,
        LedgerKind::RefundManual,
        LedgerKind::RefundSent,
        LedgerKind::RefundDone,
        LedgerKind::RefundRecorded,
        LedgerKind::Flagged(FlagReason::NotAwaitingPayment),
        LedgerKind::Flagged(FlagReason::AmountOrCurrencyMismatch),
        LedgerKind::FlaggedRefunded,
    ];

    /// The stored spelling (`payments.kind`). Fixed: rows written by older versions use it.
    pub fn as_db(self) -> &'static str {
        match self {
            LedgerKind::Checkout => "checkout",
            LedgerKind::Payment => "payment",
            LedgerKind::RefundDue(RefundDue::Overpayment) => "refund_due:overpayment",
            LedgerKind::RefundDue(RefundDue::WithdrawnBeforeWork) => {
                "refund_due:withdrawn_before_work"
            }
            LedgerKind::RefundDue(RefundDue::RefusedBeforeWork) => "refund_due:refused_before_work",
            LedgerKind::RefundDue(RefundDue::FlaggedPayment) => "refund_due:flagged",
            LedgerKind::RefundProcessing => "refund_processing",
            LedgerKind::RefundManual => "refund_manual",
            LedgerKind::RefundSent => "refund_sent",
            LedgerKind::RefundDone => "refund_done",
            LedgerKind::RefundRecorded => "refund_recorded",
            LedgerKind::Flagged(FlagReason::NotAwaitingPayment) => "flagged:not_awaiting_payment",
            LedgerKind::Flagged(FlagReason::AmountOrCurrencyMismatch) => {
                "flagged:amount_or_currency_mismatch"
            }
            LedgerKind::FlaggedRefunded => "flagged_refunded",
        }
    }

    /// Reads [`LedgerKind::as_db`]; `None` for anything else (a corrupt row).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_db() == s)
    }

    /// Every stored spelling of a refund still due (the card refund timer looks for these).
    pub fn refunds_due() -> impl Iterator<Item = &'static str> {
        Self::ALL
            .into_iter()
            .filter(|k| matches!(k, LedgerKind::RefundDue(_)))
            .map(LedgerKind::as_db)
    }

    /// A refund still owed, which an officer can record as paid back (offline methods).
    pub fn is_refund_due(self) -> bool {
        matches!(self, LedgerKind::RefundDue(_))
    }

    /// A card payment not accepted, which an officer can send back.
    pub fn is_flagged(self) -> bool {
        matches!(self, LedgerKind::Flagged(_))
    }

    /// Words for the staff page, in Japanese or English.
    pub fn label(self, en: bool) -> &'static str {
        let (ja, english) = match self {
            LedgerKind::Checkout => ("カード決済の開始", "Card checkout opened"),
            LedgerKind::Payment => ("手数料の受領", "Fee received"),
            LedgerKind::RefundDue(RefundDue::Overpayment) => {
                ("返金予定（過払い）", "Refund due (overpayment)")
            }
            LedgerKind::RefundDue(RefundDue::WithdrawnBeforeWork) => (
                "返金予定（着手前の取下げ）",
                "Refund due (withdrawn before work)",
            ),
            LedgerKind::RefundDue(RefundDue::RefusedBeforeWork) => (
                "返金予定（着手前の不開示等）",
                "Refund due (refused before work)",
            ),
            LedgerKind::RefundDue(RefundDue::FlaggedPayment) => (
                "返金予定（受け付けなかったカード決済）",
                "Refund due (card payment not accepted)",
            ),
            LedgerKind::RefundProcessing => ("カード返金の処理中", "Card refund in progress"),
            LedgerKind::RefundManual => (
                "返金（手作業で返金してください）",
                "Refund (to be paid back by hand)",
            ),
            LedgerKind::RefundSent => ("カード返金の送信済み", "Card refund sent"),
            LedgerKind::RefundDone => ("カード返金の完了", "Card refund completed"),
            LedgerKind::RefundRecorded => ("返金済み（記録）", "Refunded (recorded)"),
            LedgerKind::Flagged(FlagReason::NotAwaitingPayment) => (
                "要確認：支払待ちでない請求へのカード決済",
                "To check: card payment for a request not awaiting payment",
            ),
            LedgerKind::Flagged(FlagReason::AmountOrCurrencyMismatch) => (
                "要確認：金額または通貨が手数料と異なるカード決済",
                "To check: card payment of the wrong amount or currency",
            ),
            LedgerKind::FlaggedRefunded => (
                "要確認の決済：返金を指示済み",
                "Payment to check: refund ordered",
            ),
        };
        if en { english } else { ja }
    }
}

/// The number of the receipt for a request's fee: the request's number under `RC-`
/// (R-2026-000123 → RC-2026-000123), so the two are read together.
pub fn receipt_number(request_number: &str) -> String {
    format!("RC-{}", request_number.trim_start_matches("R-"))
}

impl fmt::Display for LedgerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_db())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_and_spellings_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for k in LedgerKind::ALL {
            assert_eq!(LedgerKind::parse(k.as_db()), Some(k));
            assert!(seen.insert(k.as_db()), "{k:?} spelled twice");
            assert!(!k.label(false).is_empty() && !k.label(true).is_empty());
            assert!(
                !k.label(true).contains('_'),
                "no internal spelling in {k:?}'s words"
            );
        }
        assert_eq!(LedgerKind::parse("refund_due:"), None);
        assert_eq!(LedgerKind::parse("flagged:something_else"), None);
    }

    #[test]
    fn the_stored_spellings_of_older_rows_are_kept() {
        // Written down from the rows older versions wrote (payments.rs, lib.rs at a695e30).
        for s in [
            "checkout",
            "payment",
            "refund_due:overpayment",
            "refund_due:withdrawn_before_work",
            "refund_due:refused_before_work",
            "refund_due:flagged",
            "refund_processing",
            "refund_manual",
            "refund_sent",
            "refund_done",
            "refund_recorded",
            "flagged:not_awaiting_payment",
            "flagged:amount_or_currency_mismatch",
            "flagged_refunded",
        ] {
            assert!(LedgerKind::parse(s).is_some(), "{s}");
        }
        assert_eq!(LedgerKind::refunds_due().count(), 4);
    }

    #[test]
    fn a_receipt_is_numbered_after_its_request() {
        assert_eq!(receipt_number("R-2026-000123"), "RC-2026-000123");
    }

    #[test]
    fn a_domain_refund_reason_maps_to_its_ledger_reason() {
        assert_eq!(
            LedgerKind::RefundDue(RefundReason::WithdrawnBeforeWork.into()).as_db(),
            "refund_due:withdrawn_before_work"
        );
    }
}
