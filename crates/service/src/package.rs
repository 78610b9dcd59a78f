//! The disclosure package built from what the connectors gathered: a readable report (HTML,
//! printable, in the subject's language), the data as JSON, and a CSV per dataset, zipped,
//! sealed like every file and attached as the answer, which the subject downloads as usual.

use chrono::{DateTime, Utc};
use madoguchi_domain::{Actor, DocumentPurpose, FileType, State, jst_date};
use madoguchi_store::audit::Origin;
use uuid::Uuid;

use crate::gather::{GatheredDataset, Gathering};
use crate::{Service, ServiceError};

/// Characters that would end an HTML text or attribute.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One CSV field (RFC 4180), with a formula's leading character neutralised: a spreadsheet
/// must not run what a business system stored.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// A dataset as CSV with a header of labels, UTF-8 with a BOM (Excel in Japan reads it).
pub fn csv_of(d: &GatheredDataset) -> String {
    let mut out = String::from("\u{feff}");
    let line = |cells: &[String]| {
        cells
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(",")
    };
    out.push_str(&line(&d.columns));
    out.push_str("\r\n");
    for r in &d.rows {
        out.push_str(&line(r));
        out.push_str("\r\n");
    }
    out
}

/// The report a person reads: each dataset as a table, what is withheld and why.
pub fn report_html(
    business: &str,
    number: &str,
    date: &str,
    g: &Gathering,
    en: bool,
    ground: impl Fn(&madoguchi_domain::RefusalGround) -> &'static str,
) -> String {
    let t = |ja: &'static str, english: &'static str| if en { english } else { ja };
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem}}\
         table{{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}}\
         th,td{{border:1px solid #999;padding:.3rem .5rem;text-align:left;vertical-align:top}}\
         @media print{{h2{{page-break-after:avoid}}}}</style></head><body>\n",
        if en { "en" } else { "ja" },
        escape(t(
            "保有個人データの開示",
            "Disclosure of your personal data"
        )),
    );
    out.push_str(&format!(
        "<h1>{}</h1>\n<p>{} {} / {} {}</p>\n<p>{}</p>\n",
        escape(t(
            "保有個人データの開示",
            "Disclosure of your personal data"
        )),
        escape(t("請求番号", "Request")),
        escape(number),
        escape(t("作成日", "Prepared on")),
        escape(date),
        escape(&if en {
            format!("{business} holds the following personal data about you.")
        } else {
            format!("{business}が保有するお客様の個人データは次のとおりです。")
        }),
    ));
    // A dataset that could not be searched is not "no data": it stays out of the package.
    for d in g.datasets.iter().filter(|d| d.searched) {
        out.push_str(&format!(
            "<h2>{} ({})</h2>\n",
            escape(&d.label),
            d.rows.len()
        ));
        if !d.withheld.is_empty() {
            let list: Vec<String> = d
                .withheld
                .iter()
                .map(|(f, gr)| format!("{}（{}）", escape(f), escape(ground(gr))))
                .collect();
            out.push_str(&format!(
                "<p>{}: {}</p>\n",
                escape(t("開示しない項目", "Not disclosed")),
                list.join("、")
            ));
        }
        if d.rows.is_empty() {
            out.push_str(&format!(
                "<p>{}</p>\n",
                escape(t(
                    "該当するデータはありません。",
                    "We hold no such data about you."
                ))
            ));
            continue;
        }
        out.push_str("<table><thead><tr>");
        for c in &d.columns {
            out.push_str(&format!("<th scope=\"col\">{}</th>", escape(c)));
        }
        out.push_str("</tr></thead><tbody>\n");
        for r in &d.rows {
            out.push_str("<tr>");
            for v in r {
                out.push_str(&format!("<td>{}</td>", escape(v)));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</body></html>\n");
    out
}

impl Service {
    /// Builds the package from the completed gathering and attaches it as the answer (one
    /// ZIP: `report.html`, `data.json`, a CSV per dataset), on the trail like any attachment.
    pub async fn attach_gathered_package(
        &self,
        pid: Uuid,
        actor: &Actor,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Uuid, ServiceError> {
        let row = self.request_row(pid).await?;
        let current = madoguchi_store::requests::to_domain(&row)?;
        if current.state != State::InProgress || !crate::gather::packages_for(current.kind) {
            return Err(ServiceError::Invalid("package"));
        }
        let en = row.lang == "en";
        let g = self.gathering(&row, en).await?;
        if !g.complete {
            return Err(ServiceError::Invalid("the gathering is not complete"));
        }
        let settings = self.settings().await?;
        let date = if en {
            jst_date(now).format("%Y-%m-%d").to_string()
        } else {
            jst_date(now).format("%Y年%-m月%-d日").to_string()
        };
        let ground = |g: &madoguchi_domain::RefusalGround| {
            if en { g.label_en() } else { g.label_ja() }
        };
        let report = report_html(&settings.business.name, &row.number, &date, &g, en, ground);
        let json = serde_json::json!({
            "request": row.number,
            "business": settings.business.name,
            "prepared_on": jst_date(now).to_string(),
            "datasets": g.datasets.iter().filter(|d| d.searched).map(|d| serde_json::json!({
                "id": d.id,
                "label": d.label,
                "columns": d.columns,
                "rows": d.rows,
                "withheld": d.withheld.iter().map(|(f, gr)| serde_json::json!({
                    "field": f,
                    "ground": ground(gr),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        });
        let zip = zip_files(
            std::iter::once(("report.html".to_owned(), report.into_bytes()))
                .chain(std::iter::once((
                    "data.json".to_owned(),
                    serde_json::to_vec_pretty(&json).expect("JSON serialises"),
                )))
                .chain(
                    g.datasets
                        .iter()
                        .filter(|d| d.searched)
                        .map(|d| (format!("{}.csv", d.id), csv_of(d).into_bytes())),
                ),
        )
        .map_err(|e| {
            ServiceError::Store(madoguchi_store::StoreError::Corrupt(format!("zip: {e}")))
        })?;
        let name = format!("{}-disclosure.zip", row.number);
        let pids = self
            .store_files(
                pid,
                DocumentPurpose::Package,
                vec![(name, FileType::Zip, zip)],
                actor,
                origin,
                now,
            )
            .await?;
        Ok(pids[0])
    }
}

fn zip_files(files: impl Iterator<Item = (String, Vec<u8>)>) -> zip::result::ZipResult<Vec<u8>> {
    use std::io::Write as _;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in files {
        zip.start_file(name, options)?;
        zip.write_all(&bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_neutralises_formulas() {
        let d = GatheredDataset {
            id: "x".into(),
            label: "X".into(),
            columns: vec!["氏名".into(), "メモ".into()],
            rows: vec![vec!["山田, 花子".into(), "=HYPERLINK(\"evil\")".into()]],
            withheld: vec![],
            searched: true,
            fields: vec![],
        };
        assert_eq!(
            csv_of(&d),
            "\u{feff}氏名,メモ\r\n\"山田, 花子\",\"'=HYPERLINK(\"\"evil\"\")\"\r\n"
        );
    }

    #[test]
    fn the_report_escapes_what_systems_stored() {
        let g = Gathering {
            systems: vec![],
            datasets: vec![GatheredDataset {
                id: "x".into(),
                label: "会員情報".into(),
                columns: vec!["氏名".into()],
                rows: vec![vec!["<script>alert(1)</script>".into()]],
                withheld: vec![],
                searched: true,
                fields: vec![],
            }],
            complete: true,
        };
        let html = report_html(
            "株式会社アスター",
            "R-2026-000001",
            "2026年12月1日",
            &g,
            false,
            |_| "",
        );
        assert!(html.contains("<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"));
        assert!(html.contains("株式会社アスターが保有するお客様の個人データは次のとおりです。"));
        assert!(!html.contains("<script>"));
    }
}
