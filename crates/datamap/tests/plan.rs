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
            },
            DatasetPlan {
                dataset: "tickets".into(),
                system: "crm".into(),
                action: RowAction::Update {
                    clear: s(&["email", "phone", "body", "allergy_note"]),
                    mask: s(&["name"]),
                },
                retained: vec![],
            },
            DatasetPlan {
                dataset: "invoices".into(),
                system: "ledger".into(),
                action: RowAction::Keep,
                retained: vec![
                    ("customer_id".into(), "法人税法施行規則第59条".into()),
                    ("billing_name".into(), "法人税法施行規則第59条".into()),
                ],
            },
            DatasetPlan {
                dataset: "customers".into(),
                system: "shop".into(),
                action: RowAction::Delete,
                retained: vec![],
            },
        ]
    );
    assert_eq!(MASK, "***");
}
