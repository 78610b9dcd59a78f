//! Application state shared by every handler.

use std::sync::Arc;

use madoguchi_config::Config;
use madoguchi_service::Service;

/// What handlers get: the service and the configuration.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Every state change goes through here.
    pub service: Service,
    /// Read-only configuration.
    pub config: Arc<Config>,
    /// Request timings for `/metrics`.
    pub metrics: crate::metrics::Metrics,
}

impl AppState {
    /// The business details in force. A page that only shows them falls back to the
    /// configuration's when the settings cannot be read: a header is no reason to fail.
    pub async fn business(&self) -> madoguchi_service::settings::BusinessDetails {
        match self.service.settings().await {
            Ok(s) => s.business.clone(),
            Err(e) => {
                tracing::error!(error = %e, "settings unreadable; showing the configured business");
                madoguchi_service::settings::Settings::from_config(&self.config).business
            }
        }
    }

    /// The business as the subject's pages show it (name, logo, links, phone).
    pub async fn brand(&self) -> crate::pages::Brand {
        match self.service.settings().await {
            Ok(s) => crate::pages::Brand::of(&s),
            Err(e) => {
                tracing::error!(error = %e, "settings unreadable; showing the configured business");
                crate::pages::Brand::named(self.business().await.name)
            }
        }
    }

    /// Cookies get `Secure` when the public URL is HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.config.base_url.starts_with("https://")
    }
}
