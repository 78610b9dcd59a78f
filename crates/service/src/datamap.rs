//! The data map in force: installed from `MADOGUCHI_DATAMAP` at start or by an administrator,
//! each version stored with its hash and audited, read through a snapshot each instance
//! refreshes like the settings; and what the answers take from it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use madoguchi_datamap::{DataMap, Problem, version_hash};
use madoguchi_domain::{RefusalGround, RequestKind};
use madoguchi_store::audit::Origin;
use madoguchi_store::datamap as store;

use crate::staff::StaffIdentity;
use crate::{Service, ServiceError};

/// The Art. 33(2) ground a map's withheld field names, as the answer records it.
pub fn ground_of(g: madoguchi_datamap::WithholdGround) -> RefusalGround {
    match g {
        madoguchi_datamap::WithholdGround::HarmToPerson => RefusalGround::HarmToPersons,
        madoguchi_datamap::WithholdGround::SeriousInterference => {
            RefusalGround::SeriousBusinessInterference
        }
        madoguchi_datamap::WithholdGround::OtherLaw => RefusalGround::ViolatesOtherLaw,
    }
}

/// How long an instance trusts its snapshot before it asks which version is in force.
const FRESH_FOR: Duration = Duration::from_secs(2);

/// The map in force.
#[derive(Debug)]
pub struct MapInForce {
    /// The map, checked.
    pub map: DataMap,
    /// The SHA-256 of its file.
    pub hash: String,
    /// The file.
    pub source: String,
    /// When it was installed.
    pub installed_at: DateTime<Utc>,
}

/// A stored version, for the console's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapVersion {
    /// The SHA-256.
    pub hash: String,
    /// The business's label.
    pub label: String,
    /// When it was installed.
    pub installed_at: DateTime<Utc>,
    /// Who installed it (a staff public id), or none for the file at start.
    pub by: Option<String>,
}

/// This instance's snapshot of the map in force.
#[derive(Debug, Default)]
pub(crate) struct MapCache {
    current: std::sync::RwLock<Option<(Instant, Option<Arc<MapInForce>>)>>,
}

/// One row of the disclosure answer the form is filled in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuggestedItem {
    /// The data set's name, in the subject's language.
    pub label: String,
    /// Whether some of it is withheld.
    pub partial: bool,
    /// The Art. 33(2) grounds of what is withheld.
    pub grounds: Vec<RefusalGround>,
}

impl Service {
    /// The map in force, if one was ever installed.
    pub async fn datamap(&self) -> Result<Option<Arc<MapInForce>>, ServiceError> {
        if let Some((at, m)) = self
            .map_cache()
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            && at.elapsed() < FRESH_FOR
        {
            return Ok(m.clone());
        }
        let stored = store::current(self.db().conn()).await?;
        let known = self
            .map_cache()
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|(_, m)| m.clone());
        let fresh = match (stored, known) {
            (None, _) => None,
            // Unchanged: no need to parse it again.
            (Some(s), Some(k)) if k.hash == s.hash => Some(k),
            (Some(s), _) => {
                // Only checked maps are stored; one that no longer loads was edited by hand.
                let map = DataMap::load(&s.source).map_err(|problems| {
                    madoguchi_store::StoreError::Corrupt(format!(
                        "data map {}: {} problem(s), the first on line {}",
                        s.hash,
                        problems.len(),
                        problems.first().map_or(0, |p| p.line)
                    ))
                })?;
                Some(Arc::new(MapInForce {
                    map,
                    hash: s.hash,
                    source: s.source,
                    installed_at: s.created_at,
                }))
            }
        };
        *self
            .map_cache()
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), fresh.clone()));
        Ok(fresh)
    }

    /// Checks a map and, if it has no problems, makes it the map in force: a new version and
    /// its `datamap.changed` entry in one transaction (nothing when it is the map in force
    /// already). Returns whether a version was added, or every problem with its line.
    pub async fn install_datamap(
        &self,
        source: &str,
        who: Option<&StaffIdentity>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Result<bool, Vec<Problem>>, ServiceError> {
        let map = match DataMap::load(source) {
            Ok(m) => m,
            Err(problems) => return Ok(Err(problems)),
        };
        let hash = version_hash(source);
        let actor = who.map_or(madoguchi_domain::Actor::System, StaffIdentity::actor);
        let entry = crate::staff::audit_entry(
            &actor,
            "datamap.changed",
            vec![
                ("hash", hash.clone()),
                ("version", map.version.chars().take(100).collect()),
                ("datasets", map.datasets.len().to_string()),
            ],
        );
        let by = who.map(|w| w.pid.to_string());
        let added = store::install(
            self.db(),
            &hash,
            &map.version,
            source,
            by.as_deref(),
            entry,
            origin,
            now,
        )
        .await?;
        // This instance sees its own change at once.
        *self
            .map_cache()
            .current
            .write()
            .unwrap_or_else(|e| e.into_inner()) = None;
        Ok(Ok(added))
    }

    /// The stored versions, newest first.
    pub async fn datamap_history(&self) -> Result<Vec<MapVersion>, ServiceError> {
        Ok(store::history(self.db().conn(), 50)
            .await?
            .into_iter()
            .map(|v| MapVersion {
                hash: v.hash,
                label: v.label,
                installed_at: v.created_at,
                by: v.created_by,
            })
            .collect())
    }

    /// The purposes to tell a subject who asks for them (Art. 32(2)): every purpose the map
    /// holds data for, one per line, in the subject's language. `None` without a map.
    pub async fn suggested_purposes(&self, en: bool) -> Result<Option<String>, ServiceError> {
        Ok(self.datamap().await?.map(|m| {
            m.map
                .purposes_for(&[])
                .iter()
                .map(|p| format!("・{}", p.label.get(en)))
                .collect::<Vec<_>>()
                .join("\n")
        }))
    }

    /// The rows a disclosure answer starts from: the map's datasets (Art. 33(1)); each with
    /// withheld fields comes partially disclosed, with their grounds.
    pub async fn suggested_items(
        &self,
        kind: RequestKind,
        en: bool,
    ) -> Result<Vec<SuggestedItem>, ServiceError> {
        if kind != RequestKind::Disclosure {
            return Ok(Vec::new());
        }
        let Some(m) = self.datamap().await? else {
            return Ok(Vec::new());
        };
        Ok(m.map
            .datasets
            .iter()
            .map(|d| {
                let mut grounds: Vec<RefusalGround> = Vec::new();
                for (_, g) in d.withheld() {
                    let g = ground_of(g);
                    if !grounds.contains(&g) {
                        grounds.push(g);
                    }
                }
                SuggestedItem {
                    label: d.label.get(en).chars().take(100).collect(),
                    partial: !grounds.is_empty(),
                    grounds,
                }
            })
            .collect())
    }

    /// Installs the map file named by `MADOGUCHI_DATAMAP` at start (the system's change). A
    /// file with problems stops the start, each problem named with its line.
    pub async fn load_datamap_file(
        &self,
        path: &std::path::Path,
        now: DateTime<Utc>,
    ) -> Result<Result<bool, Vec<Problem>>, ServiceError> {
        let source = std::fs::read_to_string(path).map_err(|e| {
            ServiceError::Store(madoguchi_store::StoreError::Corrupt(format!(
                "MADOGUCHI_DATAMAP {}: {e}",
                path.display()
            )))
        })?;
        self.install_datamap(&source, None, &Origin::default(), now)
            .await
    }
}
