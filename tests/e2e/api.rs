//! Filing through the JSON API: problem details, limits, the OpenAPI document.

use crate::helpers::*;
use crate::on_both;

on_both!(
    api_request_is_filed_and_confirmed,
    |app: TestApp| async move {
        let res = app
            .client
            .post_json("/api/v1/requests", &valid_json("api@example.jp"))
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        let body = res.json();
        assert_eq!(body["state"], "submitted");
        assert!(body["number"].as_str().unwrap().starts_with("R-"));
        assert!(
            res.header("location")
                .ends_with(body["id"].as_str().unwrap())
        );
        let pid = uuid::Uuid::parse_str(body["id"].as_str().unwrap()).unwrap();
        let path = app.confirmation_path("api@example.jp").await;
        let page = app.client.get(&path).await;
        app.client.post_form(&path, &[("csrf", &page.csrf())]).await;
        assert_eq!(app.request(pid).await.state, "identity_review");
        app.verify_audit().await;
    }
);

on_both!(
    every_invalid_field_is_a_422_problem_naming_the_field,
    |app: TestApp| async move {
        let cases: Vec<(&str, serde_json::Value, &str)> = vec![
            ("kind", serde_json::json!("everything"), "choice"),
            ("requester", serde_json::json!("neighbour"), "choice"),
            ("subject_name", serde_json::json!(""), "required"),
            ("subject_kana", serde_json::json!("Yamada"), "kana"),
            ("email", serde_json::json!("taro@@example.jp"), "email"),
            (
                "email",
                serde_json::json!("taro@example.jp\r\nBcc: all@example.jp"),
                "email",
            ),
            ("phone", serde_json::json!("0120-abc"), "phone"),
            ("delivery", serde_json::json!("pigeon"), "choice"),
            ("details", serde_json::json!(""), "required"),
            ("consent", serde_json::json!(false), "consent"),
        ];
        for (field, value, code) in cases {
            let mut body = valid_json("v@example.jp");
            body[field] = value.clone();
            let res = app.client.post_json("/api/v1/requests", &body).await;
            assert_eq!(res.status, 422, "{field}={value}: {}", res.body);
            assert_eq!(res.header("content-type"), "application/problem+json");
            let errors = res.json()["errors"].as_array().unwrap().clone();
            assert!(
                errors
                    .iter()
                    .any(|e| e["field"] == field && e["code"] == code),
                "{field}={value}: {errors:?}"
            );
        }
        assert_eq!(app.request_count().await, 0);
    }
);

on_both!(
    malformed_bodies_get_clear_4xx_problems,
    |app: TestApp| async move {
        use hyper::Method;
        let res = app
            .client
            .send(
                Method::POST,
                "/api/v1/requests",
                Some("application/json"),
                b"{\"kind\":".to_vec(),
            )
            .await;
        assert_eq!(res.status, 400, "{}", res.body);
        assert_eq!(res.json()["status"], 400);
        let res = app
            .client
            .send(
                Method::POST,
                "/api/v1/requests",
                Some("text/plain"),
                b"hello".to_vec(),
            )
            .await;
        assert_eq!(res.status, 415);
        let res = app
            .client
            .send(
                Method::POST,
                "/api/v1/requests",
                Some("application/json"),
                b"[1,2]".to_vec(),
            )
            .await;
        assert_eq!(res.status, 422);
        let mut big = valid_json("big@example.jp");
        big["details"] = serde_json::json!("x".repeat(100_000));
        let res = app.client.post_json("/api/v1/requests", &big).await;
        assert_eq!(res.status, 413);
        assert_eq!(res.header("content-type"), "application/problem+json");
        assert_eq!(app.client.get("/api/v1/nothing").await.status, 404);
        assert_eq!(app.request_count().await, 0);
    }
);

on_both!(
    the_openapi_example_files_a_request,
    |app: TestApp| async move {
        let doc = app.client.get("/api/openapi.json").await.json();
        let op = &doc["paths"]["/api/v1/requests"]["post"];
        let example = op["requestBody"]["content"]["application/json"]["example"].clone();
        assert!(
            example.is_object(),
            "every operation carries an example body"
        );
        let res = app.client.post_json("/api/v1/requests", &example).await;
        assert_eq!(res.status, 201, "{}", res.body);
    }
);

on_both!(
    staff_api_refusals_are_problem_json_as_documented,
    |app: TestApp| async move {
        use hyper::Method;
        let token = staff_token(&app, madoguchi_domain::Role::Admin).await;
        // A query string the queue cannot read (a repeated filter) was a text/plain 400 from
        // the framework; the document promises problem+json, and schemathesis checks it.
        let res = app
            .client
            .with_bearer(
                Method::GET,
                "/api/v1/staff/requests?state=a&state=b",
                &token,
                None,
            )
            .await;
        assert_eq!(res.status, 400, "{}", res.body);
        assert_eq!(res.header("content-type"), "application/problem+json");
        assert_eq!(res.json()["status"], 400);
        // An event that is not JSON was a 400 with the framework's text; it is the 415 the
        // intake endpoint answers.
        let pid = file_via_api(&app, "staff-api@example.jp").await;
        let res = app
            .client
            .send_with_headers(
                Method::POST,
                &format!("/api/v1/staff/requests/{pid}/events"),
                "text/plain",
                b"event=approve_identity".to_vec(),
                &[("authorization", &format!("Bearer {token}"))],
            )
            .await;
        assert_eq!(res.status, 415, "{}", res.body);
        assert_eq!(res.header("content-type"), "application/problem+json");
        assert_eq!(app.request(pid).await.state, "submitted");
    }
);

on_both!(
    the_openapi_document_covers_the_staff_api_and_its_problems,
    |app: TestApp| async move {
        let doc = app.client.get("/api/openapi.json").await.json();
        let paths = doc["paths"].as_object().unwrap();
        for (path, method) in [
            ("/api/v1/staff/requests", "get"),
            ("/api/v1/staff/requests/{pid}", "get"),
            ("/api/v1/staff/requests/{pid}/events", "post"),
            ("/api/v1/staff/settings/fees", "get"),
            ("/api/v1/staff/settings/fees", "put"),
        ] {
            let op = &paths[path][method];
            assert!(op.is_object(), "{method} {path} is documented");
            assert_eq!(op["security"][0]["bearer"], serde_json::json!([]));
            let problem = &op["responses"]["401"]["content"]["application/problem+json"];
            assert!(problem.is_object(), "{method} {path} documents its 401");
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        let intake = &doc["paths"]["/api/v1/requests"]["post"]["responses"]["429"];
        assert!(intake["headers"]["Retry-After"].is_object());
        // The documented detail answers the real thing, field for field.
        let token = staff_token(&app, madoguchi_domain::Role::Officer).await;
        let pid = file_via_api(&app, "doc@example.jp").await;
        let detail = app
            .client
            .with_bearer(
                hyper::Method::GET,
                &format!("/api/v1/staff/requests/{pid}"),
                &token,
                None,
            )
            .await
            .json();
        let schema = &doc["components"]["schemas"]["RequestDetail"]["properties"];
        let documented: std::collections::BTreeSet<_> =
            schema.as_object().unwrap().keys().cloned().collect();
        let answered: std::collections::BTreeSet<_> =
            detail.as_object().unwrap().keys().cloned().collect();
        assert_eq!(documented, answered);
    }
);
