//! The erasure plan of the documented example, written out by hand from `example.toml`.

use madoguchi_datamap::plan::{DatasetPlan, MASK, RowAction, erasure_all};
use madoguchi_datamap::{DataMap, EXAMPLE};

#[test]
fn the_example_erases_orders_first_clears_tickets_and_keeps_the_books() {
    let map = DataMap::load(EXAMPLE).unwrap();
    let plan = erasure_all(&map);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        plan,
        vec![
            // Orders and invoices are found through the member: changed before it.
            DatasetPlan {
                dataset: "orders".into(),
                system: "shop".into(),
                action: RowAction::Delete,
                retained: vec![],
                unmarked: false,
            },
            DatasetPlan {
                dataset: "tickets".into(),
                system: "crm".into(),
                action: RowAction::Update {
                    clear: s(&["email", "phone", "body", "allergy_note"]),
                    mask: s(&["name"]),
                    set: vec![],
                },
                retained: vec![],
                unmarked: false,
            },
            DatasetPlan {
                dataset: "invoices".into(),
                system: "ledger".into(),
                action: RowAction::Keep,
                retained: vec![
                    ("customer_id".into(), "法人税法施行規則第59条".into()),
                    ("billing_name".into(), "法人税法施行規則第59条".into()),
                ],
                unmarked: false,
            },
            DatasetPlan {
                dataset: "customers".into(),
                system: "shop".into(),
                action: RowAction::Delete,
                retained: vec![],
                unmarked: false,
            },
        ]
    );
    assert_eq!(MASK, "***");
}

/// A map of three datasets, each suspended differently (written for this test).
const SUSPEND: &str = r#"
version = "t"
safety_measures = { ja = "措置", en = "Measures" }
[[purposes]]
id = "p"
label = { ja = "目的", en = "Purpose" }
[[categories]]
id = "c"
label = { ja = "連絡先", en = "Contact" }
[[systems]]
id = "s"
name = { ja = "システム", en = "System" }
owner = "o@example.jp"
country = "JP"
connector = { kind = "postgres", url_env = "S_URL" }
[[datasets]]
id = "members"
system = "s"
label = { ja = "会員", en = "Members" }
purposes = ["p"]
retention = { period = { ja = "1年", en = "1 year" }, basis = "規程" }
find_by = [{ match = [{ field = "email", key = "email" }] }]
suspend_mark = { field = "do_not_use", value = true }
fields = [
  { name = "email", label = { ja = "メール", en = "Mail" }, category = "c", erase = "clear" },
  { name = "memo", label = { ja = "メモ", en = "Memo" }, category = "c", erase = "clear", suspend = "erase" },
  { name = "tax_id", label = { ja = "番号", en = "Number" }, category = "c", erase = "retain", retain_basis = "法", suspend = "not_applicable" },
]
[[datasets]]
id = "mailings"
system = "s"
label = { ja = "配信", en = "Mailings" }
purposes = ["p"]
retention = { period = { ja = "1年", en = "1 year" }, basis = "規程" }
find_by = [{ match = [{ field = "email", key = "email" }] }]
fields = [
  { name = "email", label = { ja = "メール", en = "Mail" }, category = "c", erase = "delete_row", suspend = "erase" },
]
[[datasets]]
id = "visits"
system = "s"
label = { ja = "来店", en = "Visits" }
purposes = ["p"]
retention = { period = { ja = "1年", en = "1 year" }, basis = "規程" }
find_by = [{ match = [{ field = "email", key = "email" }] }]
fields = [
  { name = "email", label = { ja = "メール", en = "Mail" }, category = "c", erase = "delete_row" },
  { name = "note", label = { ja = "メモ", en = "Note" }, category = "c", erase = "delete_row", suspend = "erase" },
]
"#;

#[test]
fn a_suspension_marks_erases_or_leaves_to_hand_as_each_field_says() {
    use madoguchi_datamap::MarkValue;
    use madoguchi_datamap::plan::{Measure, plan_all};
    let map = DataMap::load(SUSPEND).unwrap();
    let plan = plan_all(&map, Measure::Suspend);
    assert_eq!(
        plan,
        vec![
            // The mark is set and the memo cleared; the row stays (the number is kept by law).
            DatasetPlan {
                dataset: "members".into(),
                system: "s".into(),
                action: RowAction::Update {
                    clear: vec!["memo".into()],
                    mask: vec![],
                    set: vec![("do_not_use".into(), MarkValue::Bool(true))],
                },
                retained: vec![("tax_id".into(), "法".into())],
                unmarked: false,
            },
            // Every field erased on suspension, one by deleting its row: the row goes.
            DatasetPlan {
                dataset: "mailings".into(),
                system: "s".into(),
                action: RowAction::Delete,
                retained: vec![],
                unmarked: false,
            },
            // The row stays (its address is to be marked), so the note erased on suspension
            // is cleared, not deleted with the row; the map names no mark: left to the owner.
            DatasetPlan {
                dataset: "visits".into(),
                system: "s".into(),
                action: RowAction::Update {
                    clear: vec!["note".into()],
                    mask: vec![],
                    set: vec![],
                },
                retained: vec![],
                unmarked: true,
            },
        ]
    );
}

#[test]
fn marks_and_calls_are_checked() {
    let bad = SUSPEND.replace(
        r#"suspend_mark = { field = "do_not_use", value = true }"#,
        r#"suspend_mark = { field = "do not use", value = "x'; DROP" }"#,
    );
    let problems = DataMap::load(&bad).unwrap_err();
    let kinds: Vec<String> = problems.iter().map(|p| p.kind.message(true)).collect();
    assert_eq!(problems.len(), 2, "{kinds:?}");
    assert!(
        kinds[0].contains("suspend_mark value of dataset \"members\""),
        "{kinds:?}"
    );
    assert!(
        kinds[1].contains("\"do not use\" is not a plain SQL name"),
        "{kinds:?}"
    );
    let call = SUSPEND.replace(
        r#"suspend_mark = { field = "do_not_use", value = true }"#,
        r#"delete_call = { method = "DELETE", path = "/v1/{email}" }"#,
    );
    let problems = DataMap::load(&call).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0]
            .kind
            .message(true)
            .contains("delete_call of \"members\" applies to HTTP connectors only")
    );
}
