//! Every mistake a map can hold, found before the map is used, each with its line.

use std::collections::{BTreeMap, BTreeSet};

use toml::Spanned;

use crate::{ConnectorKind, DataMap, Erase, RecipientKind, Text, line_of};

/// A mistake in a map, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The line (1-based).
    pub line: usize,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// What can be wrong with a map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// The file is not TOML, or a key is unknown or of the wrong type.
    Syntax(String),
    /// Two of the same kind share an id.
    Duplicate {
        /// purpose, category, system, dataset, recipient, field.
        what: &'static str,
        /// The id.
        id: String,
    },
    /// A reference to something the map does not declare.
    Unknown {
        /// What was referred to.
        what: &'static str,
        /// The reference.
        id: String,
    },
    /// A label without its Japanese or English words.
    MissingLabel {
        /// Whose label.
        owner: String,
    },
    /// A dataset no identity key leads to: a subject's rows could never be found in it.
    Unreachable {
        /// The dataset.
        dataset: String,
    },
    /// Datasets that find each other's rows in a circle.
    Cycle {
        /// The datasets, in order.
        path: Vec<String>,
    },
    /// A finder condition with neither or both of `key` and `from`.
    Condition {
        /// The dataset.
        dataset: String,
    },
    /// A field erased although a law requires the dataset to be kept.
    EraseContradictsRetention {
        /// `dataset.field`.
        field: String,
    },
    /// A field retained without the law or rule it is kept under.
    RetainWithoutBasis {
        /// `dataset.field`.
        field: String,
    },
    /// A field erased by deleting its row while another field of the row must be retained.
    RowDeletionLosesRetained {
        /// `dataset.field` that deletes the row.
        field: String,
        /// The field that must be kept.
        retained: String,
    },
    /// A country that is not an ISO 3166-1 alpha-2 code.
    Country {
        /// The value.
        value: String,
    },
    /// A value where the name of an environment variable belongs (a credential in the file).
    NotAnEnvName {
        /// The setting.
        setting: &'static str,
    },
    /// A connector without the setting its kind needs.
    MissingSetting {
        /// The system.
        system: String,
        /// The setting.
        setting: &'static str,
    },
    /// A system's processor that is not declared as a processor.
    NotAProcessor {
        /// The recipient.
        recipient: String,
    },
    /// Joint users without what Art. 27(5)(iii) requires to be made known.
    JointUseUndeclared {
        /// The recipient.
        recipient: String,
    },
    /// A recipient abroad without the information Art. 28 requires.
    ForeignRegimeMissing {
        /// The recipient.
        recipient: String,
    },
    /// A table or column name of a SQL system that is not a plain identifier (letters, digits
    /// and `_`, one `.` for a schema): connectors put names into statements only in this form.
    Identifier {
        /// The name.
        value: String,
    },
    /// A dataset held for no purpose.
    NoPurpose {
        /// The dataset.
        dataset: String,
    },
    /// An HTTP dataset's location that is not a plain path (`/v1/points`): no query, no
    /// host, no `..`; values go in query parameters the connector encodes.
    HttpPath {
        /// The value.
        value: String,
    },
    /// A JSON key, dotted path, query parameter or header name of an HTTP dataset that is
    /// not plain (letters, digits, `_` and `-`; `.` between keys of a path).
    HttpName {
        /// The value.
        value: String,
    },
    /// A declared call whose path is not a plain path once its `{field}`s are filled, or
    /// names a field the dataset does not have.
    CallPath {
        /// The path.
        value: String,
    },
    /// A suspension mark whose value is not plain (letters, digits, space, `_ - . :`).
    MarkValue {
        /// The dataset.
        dataset: String,
    },
    /// A recipient's contact that is not an e-mail address.
    Contact {
        /// The recipient.
        recipient: String,
    },
    /// A setting that only an HTTP dataset or connector takes, on another kind.
    HttpOnly {
        /// The dataset or system.
        owner: String,
        /// The setting.
        setting: &'static str,
    },
}

impl ProblemKind {
    /// What is wrong, in Japanese or English.
    pub fn message(&self, en: bool) -> String {
        use ProblemKind as P;
        match (self, en) {
            (P::Syntax(m), false) => format!("書式の誤り: {m}"),
            (P::Syntax(m), true) => format!("syntax: {m}"),
            (P::Duplicate { what, id }, false) => format!("{what} の id「{id}」が重複しています"),
            (P::Duplicate { what, id }, true) => format!("{what} id {id:?} is declared twice"),
            (P::Unknown { what, id }, false) => format!("{what}「{id}」は宣言されていません"),
            (P::Unknown { what, id }, true) => format!("unknown {what} {id:?}"),
            (P::MissingLabel { owner }, false) => {
                format!("{owner} の名称に日本語と英語の両方が必要です")
            }
            (P::MissingLabel { owner }, true) => {
                format!("{owner} needs its label in both Japanese and English")
            }
            (P::Unreachable { dataset }, false) => format!(
                "データセット「{dataset}」はどの本人確認キーからもたどれません(find_by を確認してください)"
            ),
            (P::Unreachable { dataset }, true) => format!(
                "dataset {dataset:?} cannot be reached from any identity key (check find_by)"
            ),
            (P::Cycle { path }, false) => format!("参照が循環しています: {}", path.join(" → ")),
            (P::Cycle { path }, true) => format!("references form a cycle: {}", path.join(" → ")),
            (P::Condition { dataset }, false) => format!(
                "データセット「{dataset}」の条件には key か from のどちらか一方を指定してください"
            ),
            (P::Condition { dataset }, true) => {
                format!("a condition of dataset {dataset:?} needs exactly one of key and from")
            }
            (P::EraseContradictsRetention { field }, false) => format!(
                "「{field}」は法令で保存が義務付けられたデータセットにあるため、erase = \"retain\" としてください"
            ),
            (P::EraseContradictsRetention { field }, true) => format!(
                "{field} belongs to a dataset a law requires to be kept: use erase = \"retain\""
            ),
            (P::RetainWithoutBasis { field }, false) => {
                format!("「{field}」を保存する根拠 (retain_basis) がありません")
            }
            (P::RetainWithoutBasis { field }, true) => {
                format!("{field} is retained but names no retain_basis")
            }
            (P::RowDeletionLosesRetained { field, retained }, false) => {
                format!("「{field}」は行ごと削除しますが、同じ行の「{retained}」は保存が必要です")
            }
            (P::RowDeletionLosesRetained { field, retained }, true) => {
                format!("{field} deletes the row, but {retained} in the same row must be retained")
            }
            (P::Country { value }, false) => {
                format!("国「{value}」は ISO 3166-1 の2文字コードではありません(例: JP, US)")
            }
            (P::Country { value }, true) => {
                format!("country {value:?} is not an ISO 3166-1 alpha-2 code (e.g. JP, US)")
            }
            (P::NotAnEnvName { setting }, false) => format!(
                "{setting} には環境変数の名前を書いてください(認証情報をファイルに書かないでください)"
            ),
            (P::NotAnEnvName { setting }, true) => format!(
                "{setting} must name an environment variable (credentials never go in the file)"
            ),
            (P::MissingSetting { system, setting }, false) => {
                format!("システム「{system}」の接続に {setting} が必要です")
            }
            (P::MissingSetting { system, setting }, true) => {
                format!("system {system:?} needs {setting} for its connector")
            }
            (P::NotAProcessor { recipient }, false) => {
                format!("「{recipient}」は委託先 (kind = \"processor\") として宣言されていません")
            }
            (P::NotAProcessor { recipient }, true) => {
                format!("{recipient:?} is not declared with kind = \"processor\"")
            }
            (P::JointUseUndeclared { recipient }, false) => {
                format!("共同利用「{recipient}」には joint_use(範囲・利用目的・責任者)が必要です")
            }
            (P::JointUseUndeclared { recipient }, true) => format!(
                "joint use {recipient:?} needs joint_use (scope, purpose, responsible party)"
            ),
            (P::ForeignRegimeMissing { recipient }, false) => format!(
                "外国の提供先「{recipient}」には foreign_regime(外国の制度と講じている措置)が必要です"
            ),
            (P::ForeignRegimeMissing { recipient }, true) => format!(
                "recipient abroad {recipient:?} needs foreign_regime (the country's system and the measures taken)"
            ),
            (P::Identifier { value }, false) => format!(
                "「{value}」は SQL の名前として使えません(英数字と _、スキーマ名との区切りの . のみ)"
            ),
            (P::Identifier { value }, true) => format!(
                "{value:?} is not a plain SQL name (letters, digits and _, one . before a table)"
            ),
            (P::NoPurpose { dataset }, false) => {
                format!("データセット「{dataset}」に利用目的がありません")
            }
            (P::NoPurpose { dataset }, true) => format!("dataset {dataset:?} has no purpose"),
            (P::HttpPath { value }, false) => format!(
                "「{value}」は HTTP のパスとして使えません(/ で始まる英数字と - _ . ~ / のみ。クエリや .. は不可)"
            ),
            (P::HttpPath { value }, true) => format!(
                "{value:?} is not a plain HTTP path (starts with /; letters, digits, - _ . ~ /; no query, no ..)"
            ),
            (P::HttpName { value }, false) => format!(
                "「{value}」は HTTP の名前として使えません(英数字と _ -、パスの区切りの . のみ)"
            ),
            (P::HttpName { value }, true) => format!(
                "{value:?} is not a plain HTTP name (letters, digits, _ and -; . between keys)"
            ),
            (P::CallPath { value }, false) => format!(
                "「{value}」は呼び出しのパスとして使えません({{}} の中はデータセットの項目名、ほかは / で始まる英数字と - _ . ~ / のみ)"
            ),
            (P::CallPath { value }, true) => format!(
                "{value:?} is not a plain call path ({{}} must name a field of the dataset; otherwise starts with /, letters, digits, - _ . ~ /)"
            ),
            (P::MarkValue { dataset }, false) => format!(
                "データセット「{dataset}」の suspend_mark の値は短い英数字(空白と _ - . : を含む)にしてください"
            ),
            (P::MarkValue { dataset }, true) => format!(
                "the suspend_mark value of dataset {dataset:?} must be a short plain word (letters, digits, space, _ - . :)"
            ),
            (P::Contact { recipient }, false) => {
                format!("提供先「{recipient}」の contact はメールアドレスにしてください")
            }
            (P::Contact { recipient }, true) => {
                format!("the contact of recipient {recipient:?} must be an e-mail address")
            }
            (P::HttpOnly { owner, setting }, false) => {
                format!("「{owner}」の {setting} は HTTP の接続にだけ指定できます")
            }
            (P::HttpOnly { owner, setting }, true) => {
                format!("{setting} of {owner:?} applies to HTTP connectors only")
            }
        }
    }
}

struct Found<'s> {
    source: &'s str,
    problems: Vec<Problem>,
}

impl Found<'_> {
    fn at<T>(&mut self, span: &Spanned<T>, kind: ProblemKind) {
        self.problems.push(Problem {
            line: line_of(self.source, span.span().start),
            kind,
        });
    }
}

/// Every problem of a parsed map, in file order. `source` is the file it was parsed from
/// (for lines).
pub fn check(map: &DataMap, source: &str) -> Vec<Problem> {
    let mut f = Found {
        source,
        problems: Vec::new(),
    };
    let purposes = ids(&mut f, "purpose", map.purposes.iter().map(|p| &p.id));
    let categories = ids(&mut f, "category", map.categories.iter().map(|c| &c.id));
    let systems = ids(&mut f, "system", map.systems.iter().map(|s| &s.id));
    ids(&mut f, "dataset", map.datasets.iter().map(|d| &d.id));
    let recipients = ids(&mut f, "recipient", map.recipients.iter().map(|r| &r.id));
    let known = |set: &BTreeSet<String>, s: &Spanned<String>| set.contains(s.get_ref());

    for p in &map.purposes {
        label(&mut f, &p.id, &p.label, "purpose");
    }
    for c in &map.categories {
        label(&mut f, &c.id, &c.label, "category");
    }
    for s in &map.systems {
        label(&mut f, &s.id, &s.name, "system");
        country(&mut f, &s.country);
        if let Some(p) = &s.processor {
            match map.recipient(p.get_ref()) {
                None => f.at(p, unknown("recipient", p)),
                Some(r) if r.kind != RecipientKind::Processor => f.at(
                    p,
                    ProblemKind::NotAProcessor {
                        recipient: p.get_ref().clone(),
                    },
                ),
                Some(_) => {}
            }
        }
        let c = &s.connector;
        for (setting, value) in [
            ("url_env", &c.url_env),
            ("token_env", &c.token_env),
            ("write_url_env", &c.write_url_env),
        ] {
            if let Some(v) = value
                && !is_env_name(v.get_ref())
            {
                f.at(v, ProblemKind::NotAnEnvName { setting });
            }
        }
        for (name, var) in &c.headers_env {
            if !is_http_name(name, false) {
                f.at(
                    &s.id,
                    ProblemKind::HttpName {
                        value: name.clone(),
                    },
                );
            }
            if !is_env_name(var.get_ref()) {
                f.at(
                    var,
                    ProblemKind::NotAnEnvName {
                        setting: "headers_env",
                    },
                );
            }
        }
        if c.kind != ConnectorKind::Http {
            for (setting, set) in [
                ("headers_env", !c.headers_env.is_empty()),
                ("rate_per_sec", c.rate_per_sec.is_some()),
            ] {
                if set {
                    f.at(
                        &s.id,
                        ProblemKind::HttpOnly {
                            owner: s.id.get_ref().clone(),
                            setting,
                        },
                    );
                }
            }
        }
        if (c.kind.is_sql() || c.kind == ConnectorKind::Http) && c.url_env.is_none() {
            f.at(
                &s.id,
                ProblemKind::MissingSetting {
                    system: s.id.get_ref().clone(),
                    setting: "connector.url_env",
                },
            );
        }
    }

    for d in &map.datasets {
        let did = d.id.get_ref().clone();
        label(&mut f, &d.id, &d.label, "dataset");
        if !known(&systems, &d.system) {
            f.at(&d.system, unknown("system", &d.system));
        }
        if d.purposes.is_empty() {
            f.at(
                &d.id,
                ProblemKind::NoPurpose {
                    dataset: did.clone(),
                },
            );
        }
        for p in &d.purposes {
            if !known(&purposes, p) {
                f.at(p, unknown("purpose", p));
            }
        }
        for r in &d.recipients {
            if !known(&recipients, r) {
                f.at(r, unknown("recipient", r));
            }
        }
        let kind = map.system(d.system.get_ref()).map(|s| s.connector.kind);
        if kind == Some(ConnectorKind::Http) {
            http_dataset(&mut f, d);
        } else {
            let param = d
                .find_by
                .iter()
                .flat_map(|x| &x.conditions)
                .any(|c| c.param.is_some());
            for (setting, set) in [
                ("records", d.records.is_some()),
                ("pages", d.pages.is_some()),
                ("match.param", param),
                ("delete_call", d.delete_call.is_some()),
                ("update_call", d.update_call.is_some()),
            ] {
                if set {
                    f.at(
                        &d.id,
                        ProblemKind::HttpOnly {
                            owner: did.clone(),
                            setting,
                        },
                    );
                }
            }
        }
        if let Some(mark) = &d.suspend_mark {
            if !mark.value.is_plain() {
                f.at(
                    &mark.field,
                    ProblemKind::MarkValue {
                        dataset: did.clone(),
                    },
                );
            }
            let plain = match kind {
                Some(ConnectorKind::Http) => is_http_name(mark.field.get_ref(), true),
                Some(k) if k.is_sql() => is_sql_name(mark.field.get_ref(), false),
                _ => true,
            };
            if !plain {
                f.at(
                    &mark.field,
                    ProblemKind::Identifier {
                        value: mark.field.get_ref().clone(),
                    },
                );
            }
        }
        if kind.is_some_and(ConnectorKind::is_sql) {
            // Without a location the dataset's id names the table.
            let table = d.location.clone().unwrap_or_else(|| d.id.get_ref().clone());
            if !is_sql_name(&table, true) {
                f.at(&d.id, ProblemKind::Identifier { value: table });
            }
            for field in d
                .fields
                .iter()
                .filter(|x| !is_sql_name(x.name.get_ref(), false))
            {
                f.at(
                    &field.name,
                    ProblemKind::Identifier {
                        value: field.name.get_ref().clone(),
                    },
                );
            }
        }
        let mut names = BTreeSet::new();
        for field in &d.fields {
            let fname = format!("{did}.{}", field.name.get_ref());
            if !names.insert(field.name.get_ref().clone()) {
                f.at(
                    &field.name,
                    ProblemKind::Duplicate {
                        what: "field",
                        id: fname.clone(),
                    },
                );
            }
            label(&mut f, &field.name, &field.label, "field");
            if !known(&categories, &field.category) {
                f.at(&field.category, unknown("category", &field.category));
            }
            if field.erase.removes() && d.retention.required_by_law {
                f.at(
                    &field.name,
                    ProblemKind::EraseContradictsRetention {
                        field: fname.clone(),
                    },
                );
            }
            if field.erase == Erase::Retain
                && field
                    .retain_basis
                    .as_deref()
                    .is_none_or(|b| b.trim().is_empty())
            {
                f.at(
                    &field.name,
                    ProblemKind::RetainWithoutBasis { field: fname },
                );
            }
        }
        if let Some(retained) = d.fields.iter().find(|x| x.erase == Erase::Retain) {
            for field in d.fields.iter().filter(|x| x.erase == Erase::DeleteRow) {
                f.at(
                    &field.name,
                    ProblemKind::RowDeletionLosesRetained {
                        field: format!("{did}.{}", field.name.get_ref()),
                        retained: format!("{did}.{}", retained.name.get_ref()),
                    },
                );
            }
        }
        for finder in &d.find_by {
            for c in &finder.conditions {
                if !names.contains(c.field.get_ref()) {
                    let id = format!("{did}.{}", c.field.get_ref());
                    f.at(&c.field, ProblemKind::Unknown { what: "field", id });
                }
                match (&c.key, &c.from) {
                    (Some(_), None) => {}
                    (None, Some(from)) => {
                        if !resolves(map, from.get_ref()) {
                            f.at(from, unknown("field", from));
                        }
                    }
                    _ => f.at(
                        &c.field,
                        ProblemKind::Condition {
                            dataset: did.clone(),
                        },
                    ),
                }
            }
        }
    }

    for r in &map.recipients {
        // A task's link names a system or a recipient by id: the two must not share one.
        if systems.contains(r.id.get_ref()) {
            f.at(
                &r.id,
                ProblemKind::Duplicate {
                    what: "recipient",
                    id: r.id.get_ref().clone(),
                },
            );
        }
        label(&mut f, &r.id, &r.name, "recipient");
        country(&mut f, &r.country);
        for c in &r.categories {
            if !known(&categories, c) {
                f.at(c, unknown("category", c));
            }
        }
        if let Some(c) = &r.contact
            && !is_address(c)
        {
            f.at(
                &r.id,
                ProblemKind::Contact {
                    recipient: r.id.get_ref().clone(),
                },
            );
        }
        if r.kind == RecipientKind::JointUse && r.joint_use.is_none() {
            f.at(
                &r.id,
                ProblemKind::JointUseUndeclared {
                    recipient: r.id.get_ref().clone(),
                },
            );
        }
        if r.country.get_ref() != "JP" && r.foreign_regime.is_none() {
            f.at(
                &r.id,
                ProblemKind::ForeignRegimeMissing {
                    recipient: r.id.get_ref().clone(),
                },
            );
        }
    }

    reachability(&mut f, map);
    f.problems.sort_by_key(|p| p.line);
    f.problems
}

/// Whether `dataset.field` names a field of a declared dataset.
fn resolves(map: &DataMap, reference: &str) -> bool {
    reference.split_once('.').is_some_and(|(ds, field)| {
        map.dataset(ds)
            .is_some_and(|t| t.fields.iter().any(|x| x.name.get_ref() == field))
    })
}

fn unknown(what: &'static str, id: &Spanned<String>) -> ProblemKind {
    ProblemKind::Unknown {
        what,
        id: id.get_ref().clone(),
    }
}

/// The ids of one kind; the second of two equal ones is a problem.
fn ids<'a>(
    f: &mut Found<'_>,
    what: &'static str,
    all: impl Iterator<Item = &'a Spanned<String>>,
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for id in all {
        if !seen.insert(id.get_ref().clone()) {
            f.at(
                id,
                ProblemKind::Duplicate {
                    what,
                    id: id.get_ref().clone(),
                },
            );
        }
    }
    seen
}

fn label(f: &mut Found<'_>, at: &Spanned<String>, text: &Text, what: &str) {
    if text.ja.trim().is_empty() || text.en.trim().is_empty() {
        f.at(
            at,
            ProblemKind::MissingLabel {
                owner: format!("{what} {}", at.get_ref()),
            },
        );
    }
}

fn country(f: &mut Found<'_>, c: &Spanned<String>) {
    let v = c.get_ref();
    if v.len() != 2 || !v.bytes().all(|b| b.is_ascii_uppercase()) {
        f.at(c, ProblemKind::Country { value: v.clone() });
    }
}

/// A plain SQL name: letters, digits and `_`, not starting with a digit; with `qualified`, one
/// `schema.` before it.
fn is_sql_name(s: &str, qualified: bool) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 63
            && !p.starts_with(|c: char| c.is_ascii_digit())
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    match s.split_once('.') {
        Some((schema, table)) if qualified => part(schema) && part(table),
        Some(_) => false,
        None => part(s),
    }
}

/// An e-mail address as far as a map can tell: one `@` with text on both sides, a dot in the
/// domain, no spaces or control characters.
fn is_address(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && s.len() <= 254
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An HTTP dataset's names: its location a plain path, its fields and records JSON keys or
/// dotted paths, its page parameters plain names.
fn http_dataset(f: &mut Found<'_>, d: &crate::Dataset) {
    let location = d.location.clone().unwrap_or_default();
    if !is_http_path(&location) {
        f.at(&d.id, ProblemKind::HttpPath { value: location });
    }
    for field in d
        .fields
        .iter()
        .filter(|x| !is_http_name(x.name.get_ref(), true))
    {
        f.at(
            &field.name,
            ProblemKind::HttpName {
                value: field.name.get_ref().clone(),
            },
        );
    }
    let mut names: Vec<(&str, bool)> = Vec::new();
    for c in d.find_by.iter().flat_map(|x| &x.conditions) {
        if let Some(p) = &c.param {
            names.push((p, false));
        }
    }
    if let Some(r) = &d.records {
        names.push((r, true));
    }
    match &d.pages {
        Some(crate::Pages::Cursor { param, next }) => {
            names.push((param, false));
            names.push((next, true));
        }
        Some(crate::Pages::Number { param }) => names.push((param, false)),
        Some(crate::Pages::Link) | None => {}
    }
    for call in d.delete_call.iter().chain(&d.update_call) {
        let names = call.placeholders();
        let mut filled = call.path.clone();
        for n in &names {
            filled = filled.replacen(&format!("{{{n}}}"), "x", 1);
        }
        let known = names
            .iter()
            .all(|n| d.fields.iter().any(|x| x.name.get_ref() == n));
        if !known || !is_http_path(&filled) {
            f.at(
                &d.id,
                ProblemKind::CallPath {
                    value: call.path.clone(),
                },
            );
        }
    }
    for (name, dotted) in names {
        if !is_http_name(name, dotted) {
            f.at(
                &d.id,
                ProblemKind::HttpName {
                    value: name.to_owned(),
                },
            );
        }
    }
}

/// A path below the service's base URL: `/` then letters, digits, `-_.~/`, no `..`.
fn is_http_path(s: &str) -> bool {
    s.starts_with('/')
        && s.len() <= 200
        && !s.contains("..")
        && !s.contains("//")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~/".contains(&b))
}

/// A JSON key, query parameter or header name: letters, digits, `_` and `-`; with `dotted`,
/// several joined by `.` (a path into nested objects).
fn is_http_name(s: &str, dotted: bool) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 63
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if dotted {
        s.split('.').all(part)
    } else {
        part(s)
    }
}

/// An environment variable's name: upper-case letters, digits and `_`, not starting with a
/// digit. Anything else (a URL, a password) is a credential written into the file.
fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Which datasets a subject's rows can be found in, starting from identity keys and following
/// references; and the cycles among references.
fn reachability(f: &mut Found<'_>, map: &DataMap) {
    // dataset → the datasets each of its finders depends on.
    let deps: BTreeMap<&str, Vec<Vec<&str>>> = map
        .datasets
        .iter()
        .map(|d| {
            let finders = d
                .find_by
                .iter()
                // A finder counts only if every condition can be evaluated: one of key and
                // from, and a from that names a field the other dataset has.
                .filter(|fi| {
                    !fi.conditions.is_empty()
                        && fi.conditions.iter().all(|c| match (&c.key, &c.from) {
                            (Some(_), None) => true,
                            (None, Some(from)) => resolves(map, from.get_ref()),
                            _ => false,
                        })
                })
                .map(|fi| {
                    fi.conditions
                        .iter()
                        .filter_map(|c| c.from.as_ref())
                        .map(|from| from.get_ref().split('.').next().unwrap_or(""))
                        .collect()
                })
                .collect();
            (d.id.get_ref().as_str(), finders)
        })
        .collect();
    let mut reached: BTreeSet<&str> = BTreeSet::new();
    loop {
        let before = reached.len();
        for (d, finders) in &deps {
            if finders
                .iter()
                .any(|needs| needs.iter().all(|n| reached.contains(n) && n != d))
            {
                reached.insert(d);
            }
        }
        if reached.len() == before {
            break;
        }
    }
    for d in &map.datasets {
        if !reached.contains(d.id.get_ref().as_str()) {
            f.at(
                &d.id,
                ProblemKind::Unreachable {
                    dataset: d.id.get_ref().clone(),
                },
            );
        }
    }
    // Cycles: depth-first over every reference edge, each cycle reported once, at the dataset
    // where it was first entered.
    let edges: BTreeMap<&str, BTreeSet<&str>> = deps
        .iter()
        .map(|(d, finders)| (*d, finders.iter().flatten().copied().collect()))
        .collect();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut reported: BTreeSet<Vec<String>> = BTreeSet::new();
    for d in &map.datasets {
        let start = d.id.get_ref().as_str();
        let mut path = vec![start];
        walk(&edges, &mut path, &mut done, &mut |cycle: Vec<&str>| {
            let mut key: Vec<String> = cycle.iter().map(|s| s.to_string()).collect();
            key.sort();
            if reported.insert(key) {
                let at = map
                    .dataset(cycle[0])
                    .map(|x| x.id.clone())
                    .unwrap_or_else(|| d.id.clone());
                let mut shown: Vec<String> = cycle.iter().map(|s| s.to_string()).collect();
                shown.push(cycle[0].to_string());
                f.at(&at, ProblemKind::Cycle { path: shown });
            }
        });
    }
}

fn walk<'a>(
    edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    path: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
    found: &mut dyn FnMut(Vec<&'a str>),
) {
    let here = *path.last().expect("a path is never empty");
    if done.contains(here) {
        return;
    }
    for next in edges.get(here).into_iter().flatten() {
        if let Some(i) = path.iter().position(|p| p == next) {
            found(path[i..].to_vec());
        } else if edges.contains_key(next) {
            path.push(next);
            walk(edges, path, done, found);
            path.pop();
        }
    }
    done.insert(here);
}
