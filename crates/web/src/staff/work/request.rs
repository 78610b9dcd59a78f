//! A request's page: its facts, trail, documents, answer form (suggested from the data map
//! and what was carried out) and the actions its state offers.

use super::*;
use madoguchi_service::Lang;

/// An action's label for the message after it; empty for a name that is not an action.
pub(super) fn action_form_label(name: &str, lang: Lang) -> String {
    ACTION_NAMES
        .iter()
        .find(|n| **n == name)
        .map(|n| action_form(n, lang).label)
        .unwrap_or_default()
}

/// Every action the request page can send.
pub(super) const ACTION_NAMES: [&str; 13] = [
    "approve_identity",
    "submit_evidence",
    "provide_info",
    "request_more_evidence",
    "reject_identity",
    "record_payment",
    "start_work",
    "request_info",
    "change_delivery",
    "extend_deadline",
    "complete",
    "refuse",
    "withdraw",
];

pub(super) fn action_form(name: &'static str, lang: Lang) -> ActionForm {
    let (ja, en_label, text, text_ja, text_en, grounds) = match name {
        "approve_identity" => ("本人確認を承認", "Approve identity", false, "", "", false),
        "submit_evidence" => (
            "郵送・窓口で書類を受領（本人の提出として記録）",
            "Record documents received by post or at the counter",
            false,
            "",
            "",
            false,
        ),
        "provide_info" => (
            "本人からの回答を記録（郵送・電話・窓口）",
            "Record the subject's answer (by post, phone or at the counter)",
            true,
            "本人の回答の内容",
            "What the subject answered",
            false,
        ),
        "request_more_evidence" => (
            "追加書類を依頼",
            "Ask for more evidence",
            true,
            "本人に伝える不足書類",
            "What is missing (sent to the subject)",
            false,
        ),
        "reject_identity" => (
            "本人確認不可として終了",
            "Reject identity",
            true,
            "理由（本人に送付）",
            "Reason (sent to the subject)",
            false,
        ),
        "record_payment" => ("入金を記録", "Record payment", false, "", "", false),
        "start_work" => ("作業開始", "Start work", false, "", "", false),
        "request_info" => (
            "対象データの特定を依頼（法37条2項）",
            "Ask to identify the data (Art. 37(2))",
            true,
            "質問（本人に送付）",
            "Question (sent to the subject)",
            false,
        ),
        "change_delivery" => (
            "開示の方法を変更",
            "Change the delivery method",
            true,
            "理由（本人に送付。例：多額の費用を要するため書面で交付します）",
            "Reason (sent to the subject, e.g. the electronic form would be very costly)",
            false,
        ),
        "extend_deadline" => (
            "期限を延長",
            "Extend deadline",
            true,
            "理由（本人に送付）",
            "Reason (sent to the subject)",
            false,
        ),
        "complete" => (
            "対応を完了",
            "Complete",
            true,
            "本人へのご連絡（訂正等の内容など）",
            "Message to the subject (e.g. what was corrected)",
            true,
        ),
        "refuse" => (
            "不開示・不対応を決定",
            "Refuse",
            true,
            "理由の説明（法36条、本人に送付）",
            "Explanation (Art. 36, sent to the subject)",
            true,
        ),
        "withdraw" => (
            "取下げを記録（郵送・電話）",
            "Record withdrawal (by post or phone)",
            false,
            "",
            "",
            false,
        ),
        _ => ("", "", false, "", "", false),
    };
    ActionForm {
        name,
        label: if lang.is_en() { en_label } else { ja }.to_owned(),
        next: false,
        text,
        text_label: if lang.is_en() { text_en } else { text_ja }.to_owned(),
        grounds,
    }
}

/// What the answer form starts from, in the subject's language (the answer is theirs): a
/// disclosure's items from the data map's datasets, an Art. 33(5) answer from the provision
/// register's records about them, a purpose notification's message from the map's purposes.
/// With the words for the officer that say where it came from.
pub(super) async fn suggested_answer(
    state: &AppState,
    row: &madoguchi_service::rows::request::Model,
    kind: madoguchi_domain::RequestKind,
    page_lang: Lang,
) -> Result<(Vec<(String, String)>, String), madoguchi_service::ServiceError> {
    use madoguchi_domain::RequestKind as K;
    let lang = if row.lang == "en" { Lang::En } else { Lang::Ja };
    let gathered = state.service.gathering(row, lang.is_en()).await?;
    let mut fields = Vec::new();
    let mut item = |n: usize, label: String, result: &str, grounds: Vec<&str>| {
        fields.push((format!("item_label_{n}"), label));
        fields.push((format!("item_result_{n}"), result.to_owned()));
        for g in grounds {
            fields.push((format!("item_grounds_{n}"), g.to_owned()));
        }
    };
    let from = match kind {
        // Only a finished gathering is an answer; a dataset that could not be searched is
        // left to the officer, never told to the subject as "no data".
        K::Disclosure if gathered.complete && !gathered.datasets.is_empty() => {
            // What the connectors found: a dataset with rows is disclosed (in part when
            // fields are withheld), one without is "no data".
            let searched = gathered.datasets.iter().filter(|d| d.searched);
            for (i, d) in searched.take(MAX_SUGGESTED).enumerate() {
                let mut grounds: Vec<&str> = d.withheld.iter().map(|(_, g)| g.as_str()).collect();
                grounds.sort_unstable();
                grounds.dedup();
                let result = match (d.rows.is_empty(), grounds.is_empty()) {
                    (true, _) => "no_data",
                    (false, true) => "disclosed",
                    (false, false) => "partially_disclosed",
                };
                let grounds = if d.rows.is_empty() {
                    Vec::new()
                } else {
                    grounds
                };
                item(i + 1, d.label.chars().take(100).collect(), result, grounds);
            }
            if page_lang.is_en() {
                "Filled in from what the connectors gathered; check it against the data below."
                    .into()
            } else {
                "コネクタが収集したデータから記入しています。下の収集結果と照らして確認してください。".into()
            }
        }
        K::Disclosure => {
            let items = state.service.suggested_items(kind, lang.is_en()).await?;
            for (i, it) in items.iter().take(MAX_SUGGESTED).enumerate() {
                let result = if it.partial {
                    "partially_disclosed"
                } else {
                    "disclosed"
                };
                item(
                    i + 1,
                    it.label.clone(),
                    result,
                    it.grounds.iter().map(|g| g.as_str()).collect(),
                );
            }
            if items.is_empty() {
                String::new()
            } else if page_lang.is_en() {
                "Filled in from the data map's datasets; check each against what was found.".into()
            } else {
                "データマップのデータセットから記入しています。調査の結果に合わせて確認してください。".into()
            }
        }
        K::ThirdPartyRecordDisclosure => {
            let records = state.service.register_for(row).await?;
            for (i, r) in records.iter().take(MAX_SUGGESTED).enumerate() {
                let label: String = r
                    .record
                    .answer_line(lang.is_en())
                    .chars()
                    .take(100)
                    .collect();
                item(i + 1, label, "disclosed", Vec::new());
            }
            match (records.len(), page_lang.is_en()) {
                (0, true) => "The provision register holds no record matching the person's address or phone number.".into(),
                (0, false) => "第三者提供記録には、本人のメールアドレス・電話番号に一致する記録がありません。".into(),
                (n, true) => format!("Filled in from the {n} provision record(s) matching the person's address or phone number."),
                (n, false) => format!("本人のメールアドレス・電話番号に一致する第三者提供記録 {n} 件から記入しています。"),
            }
        }
        K::Correction => {
            let done = state.service.corrections(row, lang.is_en()).await?;
            if done.complete && !done.lines.is_empty() {
                let intro = if lang.is_en() {
                    "We corrected your personal data as follows:"
                } else {
                    "ご請求に基づき、次のとおりお客様の個人データを訂正しました。"
                };
                fields.push(("correction".to_owned(), "corrected".to_owned()));
                fields.push((
                    "investigated".to_owned(),
                    if lang.is_en() {
                        format!("The records held in {}.", done.changed_in.join(", "))
                    } else {
                        format!(
                            "{}に保存されている記録を確認しました。",
                            done.changed_in.join("、")
                        )
                    },
                ));
                fields.push(("content".to_owned(), done.lines.join("\n")));
                fields.push((
                    "text".to_owned(),
                    format!("{intro}\n{}", done.lines.join("\n")),
                ));
                if page_lang.is_en() {
                    "The answer is filled in from what the connectors corrected.".into()
                } else {
                    "回答欄を、コネクタが実施した訂正の記録から記入しています。".into()
                }
            } else {
                String::new()
            }
        }
        K::SuspensionOrErasure => {
            let erasure = state.service.erasure(row, lang.is_en()).await?;
            let measure = if erasure.suspend {
                madoguchi_service::erasure::Measure::Suspend
            } else {
                madoguchi_service::erasure::Measure::Erase
            };
            // Work left by hand with no one asked (a recipient without a contact) keeps the
            // answer for the officer to write.
            let untold = state
                .service
                .erasure_plan(row, measure, lang.is_en())
                .await?
                .is_some_and(|p| p.recipients.iter().any(|r| !r.by_mail));
            if untold && erasure.complete {
                // Not all of it is done: the officer writes the answer once the rest is.
                if page_lang.is_en() {
                    "Some recipients must still be told by hand (see the plan); the answer is not filled in.".into()
                } else {
                    "連絡先のない提供先への連絡が残っています（計画を参照）。回答欄は記入していません。".into()
                }
            } else if erasure.complete && !erasure.lines.is_empty() {
                let intro = match (erasure.suspend, lang.is_en()) {
                    (false, true) => "We erased your personal data as follows:",
                    (false, false) => {
                        "ご請求に基づき、次のとおりお客様の個人データを消去しました。"
                    }
                    (true, true) => "We stopped using your personal data as follows:",
                    (true, false) => {
                        "ご請求に基づき、次のとおりお客様の個人データの利用を停止しました。"
                    }
                };
                let done = if erasure.suspend {
                    madoguchi_domain::answer::Measure::SuspendedUse
                } else {
                    madoguchi_domain::answer::Measure::Erased
                };
                remedy_fields(&mut fields, &erasure, done, intro, lang);
                if page_lang.is_en() {
                    "The answer is filled in from what the connectors did.".into()
                } else {
                    "回答欄を、コネクタが実施した記録から記入しています。".into()
                }
            } else {
                String::new()
            }
        }
        K::ThirdPartyStop => {
            let stopped = state.service.erasure(row, lang.is_en()).await?;
            let untold = state
                .service
                .stop_plan(row, lang.is_en())
                .await?
                .is_some_and(|p| p.iter().any(|r| !r.by_mail));
            if untold && stopped.complete {
                if page_lang.is_en() {
                    "Some third parties must still be told by hand (see the plan); the answer is not filled in.".into()
                } else {
                    "連絡先のない第三者への連絡が残っています（計画を参照）。回答欄は記入していません。".into()
                }
            } else if stopped.complete && !stopped.lines.is_empty() {
                let intro = if lang.is_en() {
                    "We stopped providing your personal data to third parties as follows:"
                } else {
                    "ご請求に基づき、次のとおりお客様の個人データの第三者への提供を停止しました。"
                };
                let done = madoguchi_domain::answer::Measure::StoppedProvision;
                remedy_fields(&mut fields, &stopped, done, intro, lang);
                if page_lang.is_en() {
                    "The answer is filled in from the recipients' confirmations.".into()
                } else {
                    "回答欄を、提供先からの対応の報告をもとに記入しています。".into()
                }
            } else {
                String::new()
            }
        }
        K::PurposeNotification => match state.service.suggested_purposes(lang.is_en()).await? {
            Some(purposes) => {
                let intro = if lang.is_en() {
                    "We use your personal data for the following purposes:"
                } else {
                    "当社は、お客様の個人情報を次の目的で利用しています。"
                };
                fields.push(("text".to_owned(), format!("{intro}\n{purposes}")));
                if page_lang.is_en() {
                    "The message is filled in from the data map's purposes.".into()
                } else {
                    "本人へのご連絡欄を、データマップの利用目的から記入しています。".into()
                }
            }
            None => String::new(),
        },
    };
    Ok((fields, from))
}

/// Items an answer is filled in with at most (the form's limit).
pub(super) const MAX_SUGGESTED: usize = madoguchi_domain::answer::MAX_ITEMS;

/// The request page. Opening it is recorded as a view of the subject's data.
pub async fn show_request(
    State(state): State<AppState>,
    PageLang(lang): PageLang,
    Extension(who): Extension<StaffIdentity>,
    ClientOrigin(origin): ClientOrigin,
    Path(pid): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, PageError> {
    let pid = request_pid(&pid)?;
    let view = PageView {
        flash: done_words(&q.done, lang),
        doc: Uuid::parse_str(&q.doc).ok(),
        template: q.template.clone().map(|t| (t, q.for_action.clone())),
        note: None,
    };
    request_page(
        &state,
        lang,
        &who,
        &origin,
        pid,
        Vec::new(),
        Vec::new(),
        view,
    )
    .await
}

/// What the request page is opened with: the message after the last action (`?done=`), a
/// document to show in the workspace (`?doc=`), and a template to put into an action's
/// message (`?template=&for=`).
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: String,
    #[serde(default)]
    doc: String,
    #[serde(default)]
    template: Option<String>,
    #[serde(default, rename = "for")]
    for_action: String,
}

/// How the request page is shown beyond the request itself.
#[derive(Debug, Default)]
pub(super) struct PageView {
    /// What the last action did.
    pub(super) flash: String,
    /// The document opened in the workspace.
    pub(super) doc: Option<Uuid>,
    /// An answer template (by its title, which is unique) for an action's message field.
    pub(super) template: Option<(String, String)>,
    /// A note refused: why, and the words typed (kept for another try).
    pub(super) note: Option<(String, String)>,
}

/// The message after an action, from a fixed list (the query names the action; it never
/// carries the words, so a crafted link shows nothing of its own).
pub(super) fn done_words(done: &str, lang: Lang) -> String {
    let label = match done {
        "claim" => {
            return if lang.is_en() {
                "You now work this request.".into()
            } else {
                "この請求の担当になりました。".into()
            };
        }
        "note" => {
            return if lang.is_en() {
                "The note was saved.".into()
            } else {
                "メモを保存しました。".into()
            };
        }
        "" => return String::new(),
        name => action_form_label(name, lang),
    };
    if label.is_empty() {
        String::new()
    } else if lang.is_en() {
        format!("Done: {label}.")
    } else {
        format!("「{label}」を記録しました。")
    }
}

/// The request page, with the reasons the last action was refused when there are any.
#[expect(
    clippy::too_many_arguments,
    reason = "the page, its errors, its form and its message"
)]
pub(super) async fn request_page(
    state: &AppState,
    lang: Lang,
    who: &StaffIdentity,
    origin: &madoguchi_service::Origin,
    pid: Uuid,
    errors: Vec<crate::error::FieldError>,
    submitted: Vec<(String, String)>,
    view: PageView,
) -> Result<Response, PageError> {
    let now = Utc::now();
    let d = state.service.request_detail(pid, who, origin, now).await?;
    let today = jst_date(now);
    let kind = d.domain.kind;
    let by_post = madoguchi_service::email_of(&d.request).is_none();
    let actions: Vec<ActionForm> = available_events(&d.domain, &who.actor(), now)
        .into_iter()
        // Without an address a paper answer cannot turn electronic (its codes go by e-mail).
        .filter(|n| !(by_post && *n == "change_delivery"))
        .map(|n| ActionForm {
            next: is_next_step(&d.domain, n),
            ..action_form(n, lang)
        })
        .collect();
    let minor_age = state.service.config().minor_age;
    let adult_subject_age = represented_adult_age(
        d.domain.requester,
        d.request.subject_birth_date,
        d.request.arrived_at,
        minor_age,
    );
    let answer = crate::staff::answer::AnswerView::new(
        kind,
        madoguchi_service::Service::answer_of(&d.request).as_ref(),
        lang,
    );
    let answer = if submitted.is_empty() && !d.domain.state.is_terminal() {
        let (fields, from) = suggested_answer(state, &d.request, kind, lang).await?;
        answer.with_suggestion(fields, from)
    } else {
        answer.with_submitted(submitted)
    };
    let gathering = state.service.gathering(&d.request, lang.is_en()).await?;
    let can_gather = who.role.can_work_requests()
        && d.domain.state == madoguchi_domain::State::InProgress
        && madoguchi_service::gather::gathers_for(kind)
        && state.service.datamap().await?.is_some();
    let can_package = can_gather && madoguchi_service::gather::packages_for(kind);
    let mut erasure_plans = Vec::new();
    for measure in [
        madoguchi_service::erasure::Measure::Erase,
        madoguchi_service::erasure::Measure::Suspend,
    ] {
        if let Some(plan) = state
            .service
            .erasure_plan(&d.request, measure, lang.is_en())
            .await?
        {
            erasure_plans.push(plan);
        }
    }
    let erasure = state.service.erasure(&d.request, lang.is_en()).await?;
    let stop_plan = state.service.stop_plan(&d.request, lang.is_en()).await?;
    let correction_targets = state
        .service
        .correction_targets(&d.request, lang.is_en())
        .await?;
    let corrections = state.service.corrections(&d.request, lang.is_en()).await?;
    let letters = state.service.letters(d.request.id).await?;
    let documents = state.service.documents(d.request.id).await?;
    let view_doc = view.doc.and_then(|doc| {
        documents
            .iter()
            .find(|d| d.pid == doc && !d.deleted)
            .cloned()
    });
    let notes = state.service.notes(d.request.id).await?;
    let settings = state.service.settings().await?;
    let templates = settings
        .templates
        .iter()
        .map(|t| (crate::pages::urlencode(&t.title), t.title.clone()))
        .collect();
    // Only an action on the page can take a template: a crafted `for` fills nothing. A
    // template is named by its title (unique), so one removed meanwhile fills nothing rather
    // than its neighbour.
    let prefill = view.template.and_then(|(title, for_action)| {
        let template = settings.templates.iter().find(|t| t.title == title)?;
        actions_offer(&actions, &for_action).then(|| {
            let due = madoguchi_domain::written_date(d.request.due_on, lang.is_en());
            (
                for_action,
                template.fill(&d.request.number, &d.request.subject_name, &due),
            )
        })
    });
    let (note_error, note_text) = view.note.unwrap_or_default();
    // A request on the breach ground cites an incident (Art. 35(5)): the one it cites, or
    // the register to choose from.
    let breach_ground = d.request.ground.as_deref()
        == Some(madoguchi_domain::SuspensionGround::ReportableBreach.as_str());
    let cited_incident = state
        .service
        .incident_of_request(d.request.incident_id)
        .await?
        .map(|(pid, number)| (pid.to_string(), number));
    let open = madoguchi_domain::State::parse(&d.request.state).is_some_and(|s| !s.is_terminal());
    let incident_choices = if breach_ground && cited_incident.is_none() && open {
        state
            .service
            .citable_incidents()
            .await?
            .into_iter()
            .map(|(pid, number, aware_on)| {
                (
                    pid.to_string(),
                    format!(
                        "{number}（{}）",
                        madoguchi_domain::written_date(aware_on, lang.is_en())
                    ),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let from_complaint = state
        .service
        .complaint_of_request(d.request.id)
        .await?
        .map(|(pid, number)| (pid.to_string(), number));
    let page = DetailPage {
        breach_ground,
        cited_incident,
        incident_choices,
        from_complaint,
        note_error,
        note_text,
        paused: paused_words(d.request.paused_since, lang),
        view_doc,
        notes,
        templates,
        prefill,
        c: Chrome::new(who, lang),
        correction_targets,
        corrections,
        gathering,
        can_gather,
        can_package,
        can_erase: who.role.can_work_requests(),
        erasure_plans,
        stop_plan,
        erasure,
        answer,
        errors,
        identity_method: d.domain.policy.identity_for(kind).label(lang.is_en()),
        adult_subject_age,
        minor_age,
        kind: kind_label(&d.request.kind, lang),
        state: state_label(&d.request.state, lang),
        arrived_on: madoguchi_domain::written_date(jst_date(d.request.arrived_at), lang.is_en()),
        badge: badge(d.request.due_on, today, d.domain.state.is_terminal()),
        fee: Yen(d.request.fee).to_string(),
        paid: Yen(d.request.paid).to_string(),
        due: d.domain.amount_due().0,
        assignee: d.assignee.unwrap_or_default(),
        duplicate: d.duplicate_of.map(|(p, n)| (p.to_string(), n)),
        actions,
        grounds: RefusalGround::ALL
            .into_iter()
            .filter(|g| g.applies_to(kind))
            .map(|g| {
                (
                    g.as_str().to_owned(),
                    format!(
                        "{} ({})",
                        if lang.is_en() {
                            g.label_en()
                        } else {
                            g.label_ja()
                        },
                        g.article()
                    ),
                )
            })
            .collect(),
        documents,
        payments: d.payments.iter().map(|p| PaymentRow::of(p, lang)).collect(),
        mail: d.mail,
        letters,
        flash: view.flash,
        audit: d.audit,
        r: d.request,
    };
    let status = if page.errors.is_empty() && page.note_error.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, render(&page)).into_response())
}

/// Whether the page offers this action with a message field.
pub(super) fn actions_offer(actions: &[ActionForm], name: &str) -> bool {
    actions.iter().any(|a| a.name == name && a.text)
}

/// The Art. 35 answer's fields filled from what was carried out: done, the measure, what,
/// where, when, and the message to the subject.
pub(super) fn remedy_fields(
    fields: &mut Vec<(String, String)>,
    carried: &madoguchi_service::erasure::ErasureProgress,
    measure: madoguchi_domain::answer::Measure,
    intro: &str,
    lang: Lang,
) {
    let what = carried.lines.join("\n");
    fields.push(("remedy".to_owned(), "done".to_owned()));
    fields.push(("measure".to_owned(), measure.as_str().to_owned()));
    fields.push(("what".to_owned(), what.clone()));
    fields.push((
        "systems".to_owned(),
        carried
            .changed_in
            .join(if lang.is_en() { ", " } else { "、" }),
    ));
    if let Some(day) = &carried.done_on {
        fields.push(("done_on".to_owned(), day.clone()));
    }
    fields.push(("text".to_owned(), format!("{intro}\n{what}")));
}
