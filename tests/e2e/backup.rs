//! Backups (issue 20): `madoguchi backup --to FILE` copies a SQLite deployment while it
//! serves. A copy taken while requests keep arriving opens in a fresh directory (with the
//! keys kept beside it), the service starts on it, and its audit trail verifies.

use std::sync::Arc;

use sea_orm::{EntityTrait, PaginatorTrait};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_and_verifies() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for i in 0..10 {
        file_via_api(&app, &format!("before{i}@example.jp")).await;
    }
    // Requests keep arriving while the copy is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let filed = Arc::new(AtomicUsize::new(10));
    let load = {
        let (client, stop, filed) = (app.client.fresh(), stop.clone(), filed.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let res = client
                    .post_json(
                        "/api/v1/requests",
                        &valid_json(&format!("during{i}@example.jp")),
                    )
                    .await;
                assert_eq!(res.status, 201, "{}", res.body);
                filed.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let restore = std::env::temp_dir().join(format!(
        "madoguchi-restore-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&restore).unwrap();
    let copy = restore.join("madoguchi.db");
    app.service.db().backup_to(&copy).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    // A backup never overwrites.
    let again = app.service.db().backup_to(&copy).await;
    assert!(again.is_err());

    // The keys are kept with the backup, as docs/operations.md says; the service starts on
    // the copy in a fresh directory.
    std::fs::copy(app.dir.join("file-keys"), restore.join("file-keys")).unwrap();
    let mut config = app_config(&app);
    config.data_dir = restore.clone();
    config.database_url = format!("sqlite://{}", copy.display());
    config.listen = "127.0.0.1:0".parse().unwrap();
    let restored = madoguchi::Application::build(config)
        .await
        .expect("starts on the copy");
    let service = restored.service().clone();
    let result = madoguchi_store::audit::verify(service.db().conn())
        .await
        .unwrap();
    assert!(result.is_ok(), "the copy's trail verifies: {result:?}");
    // The copy is the database at one moment: every request before it, none torn.
    let count = {
        madoguchi_store::entities::request::Entity::find()
            .count(service.db().conn())
            .await
            .unwrap() as usize
    };
    let total = filed.load(Ordering::Relaxed);
    assert!(count >= 10 && count <= total, "{count} of {total}");
    assert!(total > 10, "requests arrived while the copy was taken");
    // Sealed columns open with the kept keys.
    let row = madoguchi_store::requests::find_by_pid(
        service.db().conn(),
        service.cipher(),
        madoguchi_store::entities::request::Entity::find()
            .one(service.db().conn())
            .await
            .unwrap()
            .unwrap()
            .pid,
    )
    .await
    .unwrap();
    assert_eq!(row.subject_name, "山田 太郎");
    std::fs::remove_dir_all(&restore).ok();
}
