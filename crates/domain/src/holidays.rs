//! Japanese public holidays (国民の祝日), computed from the current Act on National Holidays.
//!
//! Computed rather than tabled so that the calendar never runs out. The equinox days use the
//! National Astronomical Observatory's approximation, valid for 1980–2099; the one-off moves of
//! 2020 and 2021 (Olympics) are special-cased. Rules before 2020 are not modelled: requests are
//! only ever dated from 2026 on.

use chrono::{Datelike, NaiveDate, Weekday};

/// True when `date` is a public holiday in Japan (including 振替休日 and 国民の休日).
pub fn is_holiday(date: NaiveDate) -> bool {
    is_named_holiday(date) || is_substitute_holiday(date) || is_citizens_holiday(date)
}

/// True for Saturdays, Sundays and public holidays.
pub fn is_non_business_day(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun) || is_holiday(date)
}

fn nth_monday(year: i32, month: u32, n: u8) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Mon, n)
}

fn equinox_day(year: i32, base: f64) -> u32 {
    let y = f64::from(year - 1980);
    // The formula yields a day of month between 19 and 24, so the cast cannot truncate.
    (base + 0.242_194 * y - (y / 4.0).floor()).floor() as u32
}

fn is_named_holiday(date: NaiveDate) -> bool {
    let (y, m, d) = (date.year(), date.month(), date.day());
    let fixed = matches!(
        (m, d),
        (1, 1) | (2, 11) | (2, 23) | (4, 29) | (5, 3) | (5, 4) | (5, 5) | (11, 3) | (11, 23)
    );
    if fixed {
        return true;
    }
    let moved = |normal: Option<NaiveDate>, y2020: (u32, u32), y2021: (u32, u32)| match y {
        2020 => (m, d) == y2020,
        2021 => (m, d) == y2021,
        _ => normal == Some(date),
    };
    nth_monday(y, 1, 2) == Some(date)
        || (m == 3 && d == equinox_day(y, 20.8431))
        || (m == 9 && d == equinox_day(y, 23.2488))
        || nth_monday(y, 9, 3) == Some(date)
        || moved(nth_monday(y, 7, 3), (7, 23), (7, 22))
        || moved(NaiveDate::from_ymd_opt(y, 8, 11), (8, 10), (8, 8))
        || moved(nth_monday(y, 10, 2), (7, 24), (7, 23))
}

/// 振替休日: a holiday on a Sunday moves to the next day that is not itself a holiday.
fn is_substitute_holiday(date: NaiveDate) -> bool {
    if is_named_holiday(date) || date.weekday() == Weekday::Sun {
        return false;
    }
    let mut day = date;
    loop {
        let Some(prev) = day.pred_opt() else {
            return false;
        };
        if !is_named_holiday(prev) {
            return false;
        }
        if prev.weekday() == Weekday::Sun {
            return true;
        }
        day = prev;
    }
}

/// 国民の休日: an ordinary weekday squeezed between two holidays.
fn is_citizens_holiday(date: NaiveDate) -> bool {
    if is_named_holiday(date) || date.weekday() == Weekday::Sun {
        return false;
    }
    matches!(
        (date.pred_opt(), date.succ_opt()),
        (Some(a), Some(b)) if is_named_holiday(a) && is_named_holiday(b)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn published_2026_calendar_matches() {
        // Cabinet Office list for 2026 (内閣府「国民の祝日について」).
        let expected = [
            d(2026, 1, 1),
            d(2026, 1, 12),
            d(2026, 2, 11),
            d(2026, 2, 23),
            d(2026, 3, 20),
            d(2026, 4, 29),
            d(2026, 5, 3),
            d(2026, 5, 4),
            d(2026, 5, 5),
            d(2026, 5, 6), // 振替休日 for 5/3 (Sunday)
            d(2026, 7, 20),
            d(2026, 8, 11),
            d(2026, 9, 21),
            d(2026, 9, 22), // 国民の休日 between 敬老の日 and 秋分の日
            d(2026, 9, 23),
            d(2026, 10, 12),
            d(2026, 11, 3),
            d(2026, 11, 23),
        ];
        let mut got = Vec::new();
        let mut day = d(2026, 1, 1);
        while day.year() == 2026 {
            if is_holiday(day) {
                got.push(day);
            }
            day = day.succ_opt().unwrap();
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn equinoxes_and_substitutes_of_2027() {
        assert!(is_holiday(d(2027, 3, 21))); // 春分の日, a Sunday
        assert!(is_holiday(d(2027, 3, 22))); // 振替休日
        assert!(is_holiday(d(2027, 9, 23)));
        assert!(!is_holiday(d(2027, 9, 24)));
    }

    #[test]
    fn weekends_are_not_business_days() {
        assert!(is_non_business_day(d(2026, 11, 21))); // Saturday
        assert!(is_non_business_day(d(2026, 11, 22))); // Sunday
        assert!(is_non_business_day(d(2026, 11, 23))); // 勤労感謝の日
        assert!(!is_non_business_day(d(2026, 11, 24)));
    }
}
