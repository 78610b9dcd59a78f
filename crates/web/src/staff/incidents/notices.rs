//! An incident's notices to the people concerned (Art. 26(2)): importing who they are,
//! sending the mail and the letters, recording what was posted or published instead.

use super::*;
use madoguchi_service::Lang;

/// The notices to the people an incident involves (Art. 26(2)), as its page shows them.
#[derive(Debug, Clone, Default)]
pub struct NoticeView {
    /// The rules say the people must be told.
    pub required: bool,
    pub counts: NoticeCounts,
    /// Everyone imported.
    pub total: usize,
    /// Whose mail failed for good: (name, address, postal address).
    pub failed: Vec<(String, String, String)>,
    /// A refused import's problems: (line, what).
    pub problems: Vec<(usize, String)>,
    /// The publication made instead, in words (empty: none recorded).
    pub published: String,
    /// A refused publication's day and words, kept.
    pub published_on: String,
    pub published_how: String,
    /// What the notice tells, item by item (as the report now says it).
    pub preview: Vec<String>,
    /// The items a notice needs that the report lacks, in words.
    pub missing: Vec<&'static str>,
    /// Whose mail failed and whose postal address is known (a letter can go instead).
    pub failed_with_address: usize,
}

/// The notices' view of an incident (its people read and opened).
pub(super) async fn notice_view(
    state: &AppState,
    v: &IncidentView,
    lang: Lang,
) -> Result<NoticeView, PageError> {
    let people = state.service.incident_people(v.incident.row.id).await?;
    let r = &v.incident.row;
    Ok(NoticeView {
        required: v.assessment.notify_people,
        counts: NoticeCounts::of(&people),
        total: people.len(),
        failed: people
            .iter()
            .filter(|p| p.status == NoticeStatus::Failed)
            .map(|p| {
                (
                    p.name.clone(),
                    p.email.clone().unwrap_or_default(),
                    p.postal_address.clone().unwrap_or_default(),
                )
            })
            .collect(),
        problems: Vec::new(),
        published: match (r.published_on, &r.published_how) {
            (Some(on), Some(how)) => format!(
                "{}（{how}）",
                madoguchi_domain::written_date(on, lang.is_en())
            ),
            _ => String::new(),
        },
        published_on: String::new(),
        published_how: String::new(),
        preview: madoguchi_service::incidents::notice_lines(&v.incident.report),
        missing: madoguchi_domain::incident::missing_notice_items(|k| {
            v.incident.report.get(k).map(String::as_str)
        })
        .iter()
        .filter_map(|k| {
            REPORT_ITEMS
                .iter()
                .find(|(key, _, _)| key == k)
                .map(|(_, ja, en_label)| if lang.is_en() { *en_label } else { *ja })
        })
        .collect(),
        failed_with_address: people
            .iter()
            .filter(|p| p.status == NoticeStatus::Failed && p.postal_address.is_some())
            .count(),
    })
}

/// The incident page after a refused notice step: the error, and what was typed or read.
pub(super) async fn notice_refused(
    state: &AppState,
    who: &StaffIdentity,
    pid: Uuid,
    lang: Lang,
    error: String,
    edit: impl FnOnce(&mut NoticeView),
) -> Result<Response, PageError> {
    let (v, today) = load(state, &pid.to_string()).await?;
    let mut notice = notice_view(state, &v, lang).await?;
    edit(&mut notice);
    Ok(refused(IncidentPage {
        c: Chrome::new(who, lang),
        i: Some(row(&v, today, lang)),
        form: form_of(Some(&v), lang),
        error,
        version: v.incident.row.version,
        reported_on: String::new(),
        reference: String::new(),
        notice,
    }))
}

pub(super) fn back_to_notices(pid: Uuid) -> Response {
    Redirect::to(&format!("/staff/incidents/{pid}#notices-h")).into_response()
}

/// Imports the people an incident involves from a CSV file, all or none.
pub async fn import_people(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    multipart: Result<axum::extract::Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, PageError> {
    let pid = incident_pid(&pid)?;
    let (fields, files) = crate::staff::documents::read_upload(multipart).await?;
    let version: i32 = fields
        .iter()
        .find(|(k, _)| k == "version")
        .and_then(|(_, v)| v.trim().parse().ok())
        .ok_or(PageError::from(AppError::BadRequest("version".into())))?;
    let text = files
        .into_iter()
        .next()
        .filter(|(_, bytes)| !bytes.is_empty())
        .map(|(_, bytes)| String::from_utf8(bytes));
    let text = match text {
        Some(Ok(t)) => t,
        Some(Err(_)) => {
            let why = invalid_words("people_encoding", lang);
            return notice_refused(&state, &who, pid, lang, why, |_| {}).await;
        }
        None => {
            let why = invalid_words("people_file", lang);
            return notice_refused(&state, &who, pid, lang, why, |_| {}).await;
        }
    };
    let people = match parse_affected(&text, lang.is_en()) {
        Ok(p) => p,
        Err(problems) => {
            let why = if lang.is_en() {
                "Nothing was imported: correct the lines below and import the file again."
            } else {
                "取り込みませんでした。次の行を直してから、もう一度取り込んでください。"
            };
            return notice_refused(&state, &who, pid, lang, why.to_owned(), |n| {
                n.problems = problems.into_iter().map(|p| (p.line, p.message)).collect();
            })
            .await;
        }
    };
    match state
        .service
        .import_affected(pid, version, people, &who, &origin, Utc::now())
        .await
    {
        Ok(Ok(_)) => Ok(back_to_notices(pid)),
        Ok(Err(problems)) => {
            let why = if lang.is_en() {
                "Nothing was imported: these people are already imported, or twice in the file."
            } else {
                "取り込みませんでした。次の行の方は既に取り込まれているか、ファイル内で重複しています。"
            };
            notice_refused(&state, &who, pid, lang, why.to_owned(), |n| {
                n.problems = problems.into_iter().map(|p| (p.line, p.message)).collect();
            })
            .await
        }
        Err(ServiceError::Conflict) => {
            notice_refused(
                &state,
                &who,
                pid,
                lang,
                invalid_words("conflict", lang),
                |_| {},
            )
            .await
        }
        Err(e) => Err(PageError::from(e)),
    }
}

/// The page after a notice step: back to the notices when it was done, else the refusal in
/// words (what was typed kept by `keep`).
pub(super) async fn after_notice_step<T>(
    state: &AppState,
    who: &StaffIdentity,
    (pid, lang): (Uuid, Lang),
    done: Result<T, ServiceError>,
    keep: impl FnOnce(&mut NoticeView),
) -> Result<Response, PageError> {
    match done {
        Ok(_) => Ok(back_to_notices(pid)),
        Err(ServiceError::Invalid(field)) => {
            notice_refused(state, who, pid, lang, invalid_words(field, lang), keep).await
        }
        Err(ServiceError::Conflict) => {
            notice_refused(state, who, pid, lang, invalid_words("conflict", lang), keep).await
        }
        Err(e) => Err(PageError::from(e)),
    }
}

/// Sends the notices of everyone imported and not yet told.
pub async fn send_notices(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let Posted {
        pid, version, now, ..
    } = Posted::read(&state, &pid, &body).await?;
    let sent = state
        .service
        .send_incident_notices(pid, version, &who, &origin, now)
        .await;
    after_notice_step(&state, &who, (pid, lang), sent, |_| {}).await
}

/// Prepares letters for those whose mail failed and whose postal address is known.
pub async fn send_failed_letters(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let Posted {
        pid, version, now, ..
    } = Posted::read(&state, &pid, &body).await?;
    let prepared = state
        .service
        .send_failed_as_letters(pid, version, &who, &origin, now)
        .await;
    after_notice_step(&state, &who, (pid, lang), prepared, |_| {}).await
}

/// Records the publication made where the people cannot be told (代替措置).
pub async fn record_publication(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let Posted {
        pid,
        f,
        version,
        now,
        today,
        ..
    } = Posted::read(&state, &pid, &body).await?;
    let keep = |n: &mut NoticeView| {
        n.published_on = f.get("published_on").to_owned();
        n.published_how = f.get("published_how").to_owned();
    };
    let Ok(on) = madoguchi_domain::parse_birth_date(f.get("published_on"), today) else {
        return notice_refused(
            &state,
            &who,
            pid,
            lang,
            invalid_words("published_on", lang),
            keep,
        )
        .await;
    };
    let change = IncidentChange::Published {
        on,
        how: f.get("published_how").to_owned(),
    };
    let recorded = state
        .service
        .change_incident(pid, version, change, &who, &origin, now)
        .await;
    after_notice_step(&state, &who, (pid, lang), recorded, keep).await
}

/// The notice letters still to post, one page each, to print.
pub async fn letters(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    Path(pid): Path<String>,
) -> Result<Response, PageError> {
    let (v, _) = load(&state, &pid).await?;
    let letters = state.service.incident_letters(v.incident.row.id).await?;
    let today = madoguchi_domain::written_date(madoguchi_domain::jst_date(Utc::now()), false);
    // The form under the letters records exactly these as posted (one prepared meanwhile
    // waits for its own printing).
    let upto = letters.iter().map(|(id, _, _)| *id).max();
    let sheets: Vec<crate::staff::pages::Sheet> = letters
        .into_iter()
        .filter_map(|(_, address, ctx)| {
            let letter = madoguchi_mail::letter(madoguchi_domain::Mail::IncidentNotice, &ctx)?;
            Some(crate::staff::pages::Sheet {
                date: today.clone(),
                recipient: ctx.recipient_name.clone(),
                postal_address: address,
                number: v.incident.row.number.clone(),
                letter,
                // An apology opens without the season's greeting.
                greeting: "拝啓".into(),
            })
        })
        .collect();
    let c = state.business().await;
    Ok(render(&crate::staff::pages::NoticeLetterPage {
        lang: Lang::Ja,
        business_name: c.name.clone(),
        business_address: c.address.clone(),
        business_representative: c.representative.clone(),
        business_contact: c.contact.clone(),
        brand: state.brand().await,
        title: format!(
            "{} 個人情報の漏えい等に関するお知らせとお詫び（{}通）",
            v.incident.row.number,
            sheets.len()
        ),
        sheets,
        record: upto.filter(|_| who.role.can_work_requests()).map(|upto| {
            (
                format!("/staff/incidents/{}/letters", v.incident.row.pid),
                who.csrf.clone().unwrap_or_default(),
                upto,
            )
        }),
    }))
}

/// The letters printed (up to this outbox row).
#[derive(Debug, serde::Deserialize)]
pub struct PostedForm {
    upto: i64,
}

/// Records every notice letter still to post as posted.
pub async fn letters_posted(
    State(state): State<AppState>,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    axum::Form(f): axum::Form<PostedForm>,
) -> Result<Response, PageError> {
    let pid = incident_pid(&pid)?;
    state
        .service
        .incident_letters_posted((pid, f.upto), &who, &origin, Utc::now())
        .await?;
    Ok(back_to_notices(pid))
}
