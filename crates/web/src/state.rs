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
}

impl AppState {
    /// Cookies get `Secure` when the public URL is HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.config.base_url.starts_with("https://")
    }
}
