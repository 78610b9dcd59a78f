//! Every check of the map, each on a small file whose mistakes and lines are written out here
//! by hand; and the notice and purpose answers of the documented example.

use madoguchi_datamap::{DataMap, EXAMPLE, ProblemKind, check, json_schema, version_hash};

/// A valid map of one system and one dataset, to break one thing at a time.
const BASE: &str = r#"version = "t"
safety_measures = { ja = "措置", en = "Measures" }
[[purposes]]
id = "svc"
label = { ja = "提供", en = "Service" }
[[categories]]
id = "contact"
label = { ja = "連絡先", en = "Contact" }
[[systems]]
id = "db"
name = { ja = "DB", en = "DB" }
owner = "o@example.jp"
country = "JP"
connector = { kind = "postgres", url_env = "DB_URL" }
[[datasets]]
id = "people"
system = "db"
label = { ja = "会員", en = "Members" }
purposes = ["svc"]
retention = { period = { ja = "1年", en = "1 year" }, basis = "規程" }
find_by = [{ match = [{ field = "email", key = "email" }] }]
[[datasets.fields]]
name = "email"
label = { ja = "メール", en = "E-mail" }
category = "contact"
erase = "delete_row"
[[datasets.fields]]
name = "id"
label = { ja = "番号", en = "Number" }
category = "contact"
erase = "delete_row"
"#;

fn problems(source: &str) -> Vec<(usize, ProblemKind)> {
    match DataMap::load(source) {
        Ok(_) => Vec::new(),
        Err(ps) => ps.into_iter().map(|p| (p.line, p.kind)).collect(),
    }
}

fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

#[test]
fn the_base_map_and_the_documented_example_are_valid() {
    assert_eq!(problems(BASE), vec![]);
    assert_eq!(problems(EXAMPLE), vec![]);
    // The example shop of `examples/shop` (its systems are real in the end-to-end tests).
    assert_eq!(
        problems(include_str!("../../../examples/shop/datamap.toml")),
        vec![]
    );
}

#[test]
fn a_syntax_error_and_an_unknown_key_name_their_line() {
    let broken = BASE.replace("owner = \"o@example.jp\"", "owner = o@example.jp");
    let p = problems(&broken);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].0, 12);
    assert!(matches!(p[0].1, ProblemKind::Syntax(_)));
    // A password where only the name of a variable belongs: unknown key, refused.
    let leaked = BASE.replace(
        "url_env = \"DB_URL\" }",
        "url_env = \"DB_URL\", password = \"hunter2\" }",
    );
    let p = problems(&leaked);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].0, 14);
    match &p[0].1 {
        ProblemKind::Syntax(m) => assert!(m.contains("password"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_credential_written_as_the_variable_name_is_refused() {
    let leaked = BASE.replace(
        "url_env = \"DB_URL\"",
        "url_env = \"postgres://app:secret@db/shop\"",
    );
    assert_eq!(
        problems(&leaked),
        vec![(14, ProblemKind::NotAnEnvName { setting: "url_env" })]
    );
}

#[test]
fn a_connector_without_its_url_is_refused() {
    let missing = BASE.replace(", url_env = \"DB_URL\"", "");
    assert_eq!(
        problems(&missing),
        vec![(
            10,
            ProblemKind::MissingSetting {
                system: "db".into(),
                setting: "connector.url_env"
            }
        )]
    );
}

#[test]
fn unknown_references_are_each_named_with_their_line() {
    let bad = BASE
        .replace("system = \"db\"", "system = \"nowhere\"")
        .replace("purposes = [\"svc\"]", "purposes = [\"svc\", \"spam\"]")
        .replace(
            "category = \"contact\"\nerase = \"delete_row\"\n[[datasets.fields]]\nname = \"id\"",
            "category = \"secret\"\nerase = \"delete_row\"\n[[datasets.fields]]\nname = \"id\"",
        );
    assert_eq!(
        problems(&bad),
        vec![
            (
                17,
                ProblemKind::Unknown {
                    what: "system",
                    id: "nowhere".into()
                }
            ),
            (
                19,
                ProblemKind::Unknown {
                    what: "purpose",
                    id: "spam".into()
                }
            ),
            (
                25,
                ProblemKind::Unknown {
                    what: "category",
                    id: "secret".into()
                }
            ),
        ]
    );
}

#[test]
fn duplicates_and_missing_labels_are_refused() {
    let dup = with(
        r#"[[purposes]]
id = "svc"
label = { ja = "", en = "Again" }
"#,
    );
    assert_eq!(
        problems(&dup),
        vec![
            (
                33,
                ProblemKind::Duplicate {
                    what: "purpose",
                    id: "svc".into()
                }
            ),
            (
                33,
                ProblemKind::MissingLabel {
                    owner: "purpose svc".into()
                }
            ),
        ]
    );
}

#[test]
fn a_dataset_no_identity_key_leads_to_is_unreachable() {
    let orphan = with(
        r#"[[datasets]]
id = "notes"
system = "db"
label = { ja = "メモ", en = "Notes" }
purposes = ["svc"]
retention = { period = { ja = "1年", en = "1 year" }, basis = "規程" }
[[datasets.fields]]
name = "text"
label = { ja = "本文", en = "Text" }
category = "contact"
erase = "clear"
"#,
    );
    assert_eq!(
        problems(&orphan),
        vec![(
            33,
            ProblemKind::Unreachable {
                dataset: "notes".into()
            }
        )]
    );
}

#[test]
fn references_over_several_hops_reach_and_a_circle_does_not() {
    let hop = |id: &str, from: &str| {
        format!(
            r#"[[datasets]]
id = "{id}"
system = "db"
label = {{ ja = "{id}", en = "{id}" }}
purposes = ["svc"]
retention = {{ period = {{ ja = "1年", en = "1 year" }}, basis = "規程" }}
find_by = [{{ match = [{{ field = "ref", from = "{from}" }}] }}]
[[datasets.fields]]
name = "ref"
label = {{ ja = "参照", en = "Reference" }}
category = "contact"
erase = "clear"
"#
        )
    };
    // people → orders → lines: two hops, both reachable.
    let chain = with(&(hop("orders", "people.id") + &hop("lines", "orders.ref")));
    assert_eq!(problems(&chain), vec![]);
    // a ↔ b find each other only: a cycle, and neither reachable.
    let circle = with(&(hop("a", "b.ref") + &hop("b", "a.ref")));
    assert_eq!(
        problems(&circle),
        vec![
            (
                33,
                ProblemKind::Unreachable {
                    dataset: "a".into()
                }
            ),
            (
                33,
                ProblemKind::Cycle {
                    path: vec!["a".into(), "b".into(), "a".into()]
                }
            ),
            (
                45,
                ProblemKind::Unreachable {
                    dataset: "b".into()
                }
            ),
        ]
    );
    // A reference to a field the other dataset does not have.
    let wrong = with(&hop("orders", "people.customer_no"));
    assert_eq!(
        problems(&wrong),
        vec![
            (
                33,
                ProblemKind::Unreachable {
                    dataset: "orders".into()
                }
            ),
            (
                38,
                ProblemKind::Unknown {
                    what: "field",
                    id: "people.customer_no".into()
                }
            ),
        ]
    );
}

#[test]
fn a_condition_needs_exactly_one_of_key_and_from_and_a_field_of_its_own() {
    let both = BASE.replace(
        "{ field = \"email\", key = \"email\" }",
        "{ field = \"mail\", key = \"email\", from = \"people.id\" }",
    );
    assert_eq!(
        problems(&both),
        vec![
            (
                16,
                ProblemKind::Unreachable {
                    dataset: "people".into()
                }
            ),
            (
                21,
                ProblemKind::Unknown {
                    what: "field",
                    id: "people.mail".into()
                }
            ),
            (
                21,
                ProblemKind::Condition {
                    dataset: "people".into()
                }
            ),
        ]
    );
}

#[test]
fn erasure_that_contradicts_retention_is_refused() {
    // Kept by law, yet erased on request.
    let by_law = BASE.replace(
        "basis = \"規程\" }",
        "basis = \"法人税法\", required_by_law = true }",
    );
    assert_eq!(
        problems(&by_law),
        vec![
            (
                23,
                ProblemKind::EraseContradictsRetention {
                    field: "people.email".into()
                }
            ),
            (
                28,
                ProblemKind::EraseContradictsRetention {
                    field: "people.id".into()
                }
            ),
        ]
    );
    // Retained without a basis, while the row it is in is deleted by another field.
    let retained = BASE.replacen(
        "erase = \"delete_row\"\n[[datasets.fields]]",
        "erase = \"retain\"\n[[datasets.fields]]",
        1,
    );
    assert_eq!(
        problems(&retained),
        vec![
            (
                23,
                ProblemKind::RetainWithoutBasis {
                    field: "people.email".into()
                }
            ),
            (
                28,
                ProblemKind::RowDeletionLosesRetained {
                    field: "people.id".into(),
                    retained: "people.email".into()
                }
            ),
        ]
    );
}

#[test]
fn recipients_abroad_joint_users_and_processors_say_what_the_law_asks() {
    let r = with(
        r#"[[recipients]]
id = "us"
kind = "third_party"
name = { ja = "米国社", en = "US Inc." }
country = "US"
categories = ["contact"]
[[recipients]]
id = "group"
kind = "joint_use"
name = { ja = "グループ", en = "Group" }
country = "jp"
categories = ["contact", "health"]
"#,
    )
    .replace(
        "country = \"JP\"\nconnector",
        "country = \"JP\"\nprocessor = \"us\"\nconnector",
    );
    assert_eq!(
        problems(&r),
        vec![
            (
                14,
                ProblemKind::NotAProcessor {
                    recipient: "us".into()
                }
            ),
            (
                34,
                ProblemKind::ForeignRegimeMissing {
                    recipient: "us".into()
                }
            ),
            (
                40,
                ProblemKind::JointUseUndeclared {
                    recipient: "group".into()
                }
            ),
            (
                40,
                ProblemKind::ForeignRegimeMissing {
                    recipient: "group".into()
                }
            ),
            (43, ProblemKind::Country { value: "jp".into() }),
            (
                44,
                ProblemKind::Unknown {
                    what: "category",
                    id: "health".into()
                }
            ),
        ]
    );
}

#[test]
fn names_that_could_break_a_statement_are_refused_for_sql_systems() {
    let bad = BASE
        .replace(
            "purposes = [\"svc\"]",
            "location = \"people; DROP TABLE x\"\npurposes = [\"svc\"]",
        )
        .replace("name = \"id\"", "name = \"id\\\" OR 1=1\"");
    assert_eq!(
        problems(&bad),
        vec![
            (
                16,
                ProblemKind::Identifier {
                    value: "people; DROP TABLE x".into()
                }
            ),
            (
                29,
                ProblemKind::Identifier {
                    value: "id\" OR 1=1".into()
                }
            ),
        ]
    );
}

#[test]
fn a_dataset_for_no_purpose_is_refused() {
    let none = BASE.replace("purposes = [\"svc\"]", "purposes = []");
    assert_eq!(
        problems(&none),
        vec![(
            16,
            ProblemKind::NoPurpose {
                dataset: "people".into()
            }
        )]
    );
}

#[test]
fn every_problem_reads_in_both_languages() {
    let p = ProblemKind::Unreachable {
        dataset: "notes".into(),
    };
    assert_eq!(
        p.message(false),
        "データセット「notes」はどの本人確認キーからもたどれません(find_by を確認してください)"
    );
    assert_eq!(
        p.message(true),
        "dataset \"notes\" cannot be reached from any identity key (check find_by)"
    );
}

#[test]
fn the_example_notice_lists_what_the_law_asks_to_publish() {
    let map = DataMap::parse(EXAMPLE).unwrap();
    let notice = map.notice("abc");
    let purposes: Vec<&str> = notice
        .purposes
        .iter()
        .map(|p| p.label.ja.as_str())
        .collect();
    assert_eq!(
        purposes,
        [
            "本サービスの提供のため",
            "ご注文の商品を発送するため",
            "お問い合わせに回答するため",
            "新商品やキャンペーンのご案内のため",
            "法令に基づく帳簿の保存のため"
        ]
    );
    let categories: Vec<(&str, bool)> = notice
        .categories
        .iter()
        .map(|c| (c.label.en.as_str(), c.special_care))
        .collect();
    assert_eq!(
        categories,
        [
            ("Name and contact details", false),
            ("Date of birth", false),
            ("Purchase history", false),
            ("Enquiries", false),
            ("Health information", true)
        ]
    );
    assert_eq!(notice.countries, ["JP", "US"]);
    assert_eq!(notice.foreign_recipients.len(), 1);
    assert_eq!(
        notice.foreign_recipients[0].name.en,
        "CloudCRM Inc. (customer relations processor)"
    );
    assert!(notice.foreign_recipients[0].foreign_regime.is_some());
    assert_eq!(notice.joint_use.len(), 1);
    assert_eq!(
        notice.joint_use[0].responsible.as_ref().unwrap().ja,
        "株式会社アスター 東京都千代田区丸の内1-1-1 代表取締役 山田太郎"
    );
}

#[test]
fn purposes_for_categories_come_from_the_datasets_that_hold_them() {
    let map = DataMap::parse(EXAMPLE).unwrap();
    let ids = |cats: &[&str]| -> Vec<String> {
        map.purposes_for(cats)
            .iter()
            .map(|p| p.id.get_ref().clone())
            .collect()
    };
    // Health data is only in the enquiries dataset, held to answer enquiries.
    assert_eq!(ids(&["health"]), ["support"]);
    // The date of birth is only in the member account.
    assert_eq!(ids(&["birth"]), ["service", "shipping", "marketing"]);
    assert_eq!(ids(&[]).len(), 5);
}

#[test]
fn the_schema_names_every_top_level_section_and_the_hash_is_sha256() {
    let schema = json_schema();
    let props = schema["properties"].as_object().unwrap();
    for key in [
        "version",
        "safety_measures",
        "purposes",
        "categories",
        "systems",
        "datasets",
        "recipients",
    ] {
        assert!(props.contains_key(key), "{key}");
    }
    // printf 'abc' | sha256sum
    assert_eq!(
        version_hash("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    // The check is independent of how the file was parsed (a map's own problems only).
    let map = DataMap::parse(BASE).unwrap();
    assert!(check(&map, BASE).is_empty());
}

/// An HTTP system and dataset appended to [`BASE`], with every HTTP-only name broken once.
const HTTP: &str = r#"[[systems]]
id = "api"
name = { ja = "API", en = "API" }
owner = "o@example.jp"
country = "JP"
connector = { kind = "http", url_env = "API_URL", headers_env = { "X Key" = "api-key" } }
[[datasets]]
id = "points"
system = "api"
label = { ja = "ポイント", en = "Points" }
location = "/v1/points?email=x"
records = "data..items"
pages = { by = "cursor", param = "cursor", next = "meta.next" }
purposes = ["svc"]
retention = { period = { ja = "1年", en = "1 year" }, basis = "規程" }
find_by = [{ match = [{ field = "email", key = "email", param = "e mail" }] }]
[[datasets.fields]]
name = "email"
label = { ja = "メール", en = "E-mail" }
category = "contact"
erase = "delete_row"
[[datasets.fields]]
name = "reason.label"
label = { ja = "理由", en = "Why" }
category = "contact"
erase = "delete_row"
"#;

#[test]
fn http_datasets_take_plain_paths_and_names_only() {
    // BASE is 31 lines; HTTP's first line is line 32. Names are reported at the system's or
    // the dataset's id, an environment variable at its own place.
    assert_eq!(
        problems(&with(HTTP)),
        vec![
            (
                33,
                ProblemKind::HttpName {
                    value: "X Key".into()
                }
            ),
            (
                37,
                ProblemKind::NotAnEnvName {
                    setting: "headers_env"
                }
            ),
            (
                39,
                ProblemKind::HttpPath {
                    value: "/v1/points?email=x".into()
                }
            ),
            (
                39,
                ProblemKind::HttpName {
                    value: "e mail".into()
                }
            ),
            (
                39,
                ProblemKind::HttpName {
                    value: "data..items".into()
                }
            ),
        ]
    );
    // Mended, it is valid: a nested field (`reason.label`) and a cursor at a nested key.
    let mended = HTTP
        .replace("\"X Key\" = \"api-key\"", "\"X-Key\" = \"API_KEY\"")
        .replace("/v1/points?email=x", "/v1/points")
        .replace("e mail", "email")
        .replace("data..items", "data.items");
    assert_eq!(problems(&with(&mended)), vec![]);
    // The same settings on a SQL system or dataset are refused.
    let sql = with(&mended.replace("kind = \"http\"", "kind = \"postgres\""));
    let kinds: Vec<ProblemKind> = problems(&sql).into_iter().map(|(_, k)| k).collect();
    for setting in ["headers_env", "records", "pages", "match.param"] {
        assert!(
            kinds
                .iter()
                .any(|k| matches!(k, ProblemKind::HttpOnly { setting: s, .. } if *s == setting)),
            "{setting}: {kinds:?}"
        );
    }
    assert_eq!(
        ProblemKind::HttpOnly {
            owner: "points".into(),
            setting: "records"
        }
        .message(false),
        "「points」の records は HTTP の接続にだけ指定できます"
    );
}
