#![doc = include_str!("../README.md")]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use madoguchi_domain::role_map::RoleMap;
use madoguchi_domain::{
    FeeSchedule, IdentityMethod, Jurisdiction, Period, Policy, RequestKind, Yen,
};
use secrecy::SecretString;

/// Why the configuration was refused. Start-up stops with this message.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable has a value that does not parse.
    #[error("{key}: {message}")]
    Invalid {
        /// The variable.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The TOML file could not be read or parsed.
    #[error("config file {path}: {message}")]
    File {
        /// Its path.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (default).
    Human,
    /// One JSON object per line.
    Json,
}

/// Where e-mail goes.
#[derive(Debug, Clone)]
pub enum MailTransport {
    /// Each message is written as `<dir>/<message-id>.eml` (embedded default).
    File(PathBuf),
    /// An SMTP relay, e.g. `smtps://user:pass@mail.example.jp:465` or
    /// `smtp://mail.example.jp:587?tls=required`.
    Smtp(SecretString),
}

/// Who receives the result of a request an agent filed (the answer, the refusal, and the
/// one-time codes that open the download), when the agent also gave the subject's own address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResultsTo {
    /// The contact who filed: the agent (default; as every other mail).
    #[default]
    Requester,
    /// The subject alone.
    Subject,
    /// Both the agent and the subject.
    Both,
}

impl ResultsTo {
    /// Stable identifier.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultsTo::Requester => "requester",
            ResultsTo::Subject => "subject",
            ResultsTo::Both => "both",
        }
    }

    /// Parses [`ResultsTo::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [ResultsTo::Requester, ResultsTo::Subject, ResultsTo::Both]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// The business answering the requests, as shown in mail, letters and the procedures page.
#[derive(Debug, Clone)]
pub struct Business {
    /// Trade name (事業者の名称).
    pub name: String,
    /// Address (住所).
    pub address: String,
    /// Representative (代表者の氏名), required in the Art. 32(1) publication.
    pub representative: String,
    /// Contact for questions and complaints.
    pub contact: String,
}

/// Variables beside the configuration (connector credentials): their values never appear in
/// `Debug` output, only their names.
#[derive(Clone, Default)]
pub struct OtherVars(BTreeMap<String, String>);

impl OtherVars {
    /// A variable's value: given with the configuration, else from the process environment.
    pub fn get(&self, name: &str) -> Option<String> {
        // Never Madoguchi's own secrets: a map naming DATABASE_URL would open its own store.
        if name == "DATABASE_URL" || name.starts_with("MADOGUCHI_") || name.starts_with("STRIPE_") {
            return None;
        }
        self.0
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    }
}

impl std::fmt::Debug for OtherVars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// Everything the service reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Database URL: `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Pool size.
    pub db_max_connections: u32,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where Prometheus scrapes `/metrics`, apart from the public listener (off when unset).
    pub metrics_listen: Option<SocketAddr>,
    /// Every staff account must have a second factor (TOTP): one without it can open only its
    /// own account page until it sets one up, and its API tokens are refused.
    pub require_totp: bool,
    /// Where SQLite, mail files and the generated secret live.
    pub data_dir: PathBuf,
    /// Public base URL used in links sent by e-mail, without a trailing slash.
    pub base_url: String,
    /// Log format.
    pub log_format: LogFormat,
    /// Key for link tokens and cookies. Several instances must share it.
    pub secret: Option<SecretString>,
    /// Mail transport.
    pub mail: MailTransport,
    /// Sender address, e.g. `個人情報窓口 <privacy@example.jp>`.
    pub mail_from: String,
    /// The privacy office's shared address for staff notifications.
    pub staff_address: String,
    /// The business.
    pub business: Business,
    /// Fee per request kind.
    pub fees: FeeSchedule,
    /// The policy new requests are filed under.
    pub policy: Policy,
    /// Production refuses unsafe defaults (mail to files, missing secret).
    pub production: bool,
    /// The data map file installed at start (`MADOGUCHI_DATAMAP`), if any.
    pub datamap: Option<PathBuf>,
    /// Variables given beside the configuration that are not its own (tests pass connector
    /// credentials this way); connectors look a name up here, then in the process environment.
    pub other_vars: OtherVars,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Keys for files at rest, `id:hex,…`, newest first; generated into the data dir if unset.
    pub file_keys: Option<SecretString>,
    /// Days after closing until identity documents are deleted.
    pub retention_days: u32,
    /// Days after closing the subject can download the answer.
    pub download_days: u32,
    /// Downloads allowed per file.
    pub download_limit: u32,
    /// Largest upload, in bytes.
    pub upload_max_bytes: usize,
    /// Files per upload.
    pub upload_max_files: usize,
    /// Largest body of a staff upload (the files of an answer package together), in bytes.
    pub package_max_bytes: usize,
    /// Seconds a client has to send a request's headers, and a kept-alive connection may sit
    /// idle, before the connection is closed.
    pub header_timeout_secs: u64,
    /// Seconds a worker holds a claimed message; a crashed worker's messages are resent after
    /// this (with the same Message-ID). Must exceed the SMTP timeout.
    pub mail_lease_secs: u32,
    /// Seconds an instance holds a claimed connector job; a crashed instance's job is taken
    /// again after this. Must exceed the slowest system's read.
    pub gather_lease_secs: u32,
    /// Whether an erasure in the business's systems needs a second officer's approval
    /// (`MADOGUCHI_ERASURE_APPROVAL=two`) or the ordering officer's alone (`one`).
    pub erasure_needs_two: bool,
    /// Stripe, when `STRIPE_SECRET_KEY` and `STRIPE_WEBHOOK_SECRET` are set; otherwise card
    /// payment is simply not offered.
    pub stripe: Option<StripeConfig>,
    /// Requests one client address may file per hour (form and API together); `0` turns the
    /// limit off. Counted in the database, so every instance shares the count.
    pub intake_per_ip_per_hour: u32,
    /// The age of majority (`MADOGUCHI_MINOR_AGE`, 18 in Japan since April 2022): a legal
    /// representative filing for a subject this old or older gets the officer a warning.
    pub minor_age: u32,
    /// Who receives results of agent-filed requests (`MADOGUCHI_RESULTS_TO`).
    pub results_to: ResultsTo,
    /// Reverse proxies whose `X-Forwarded-For` is believed (`MADOGUCHI_TRUSTED_PROXIES`,
    /// addresses or CIDR networks, comma-separated; empty: the peer address is the client).
    pub trusted_proxies: Vec<Network>,
    /// Staff sign-in through the company's OpenID provider (`MADOGUCHI_OIDC_ISSUER` and the
    /// variables beside it); `None` when not set up.
    pub sso: Option<SsoConfig>,
    /// Whether staff may sign in with a local password (`MADOGUCHI_LOCAL_LOGIN`); turning it
    /// off needs single sign-on. API tokens are not passwords and keep working.
    pub local_login: bool,
}

/// Single sign-on by OpenID Connect.
#[derive(Debug, Clone)]
pub struct SsoConfig {
    /// `MADOGUCHI_OIDC_ISSUER`: the provider's issuer URL, exactly as its metadata says it.
    pub issuer: String,
    /// `MADOGUCHI_OIDC_CLIENT_ID`.
    pub client_id: String,
    /// `MADOGUCHI_OIDC_CLIENT_SECRET`.
    pub client_secret: SecretString,
    /// `MADOGUCHI_OIDC_SCOPES`: asked for besides `openid` (default `email profile`; some
    /// providers release a groups claim only for a scope of its own).
    pub scopes: String,
    /// `MADOGUCHI_OIDC_ROLE_CLAIM`: the ID token's claim that carries the person's groups
    /// (default `groups`).
    pub role_claim: String,
    /// `MADOGUCHI_OIDC_ROLES`: which values of that claim grant which role.
    pub roles: RoleMap,
    /// `MADOGUCHI_OIDC_PROVISION`: whether a person the provider vouches for, with a mapped
    /// role but no account here, gets one at first sign-in (default `false`: refused).
    pub provision: bool,
}

/// An IP network, e.g. `10.0.0.0/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: std::net::IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses `addr` or `addr/prefix`.
    pub fn parse(s: &str) -> Option<Network> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a.parse().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.trim().parse().ok()?, None),
        };
        let max = if matches!(addr, std::net::IpAddr::V4(_)) {
            32
        } else {
            128
        };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Network { addr, prefix })
    }

    /// Whether `ip` is inside this network (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let bits = |ip: IpAddr| -> (u128, u32) {
            match ip {
                IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
                IpAddr::V6(a) => (u128::from(a), 128),
            }
        };
        let ((net, width), (candidate, width2)) = (bits(self.addr), bits(ip));
        if width != width2 {
            return false;
        }
        let shift = width - u32::from(self.prefix);
        shift >= width || (net >> shift) == (candidate >> shift)
    }
}

/// Stripe keys and endpoint.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `STRIPE_SECRET_KEY`.
    pub secret_key: SecretString,
    /// `STRIPE_WEBHOOK_SECRET`.
    pub webhook_secret: SecretString,
    /// `STRIPE_API_BASE`, for tests and proxies.
    pub api_base: Option<String>,
}

impl Config {
    /// Loads the configuration. Variables (environment wins over the TOML file named by
    /// `MADOGUCHI_CONFIG`, whose keys are the same names in lower case without the prefix):
    ///
    /// | variable | default |
    /// |---|---|
    /// | `DATABASE_URL` | `sqlite://<data dir>/madoguchi.db` |
    /// | `MADOGUCHI_DB_MAX_CONNECTIONS` | `16` (SQLite: `4`) |
    /// | `MADOGUCHI_LISTEN` | `127.0.0.1:8080` |
    /// | `MADOGUCHI_REQUIRE_TOTP` | `false`: `true` makes a second factor compulsory for every staff account |
    /// | `MADOGUCHI_METRICS_LISTEN` | unset: no metrics; e.g. `127.0.0.1:9100` serves `/metrics` (Prometheus text) there only |
    /// | `MADOGUCHI_DATA_DIR` | `./var` |
    /// | `MADOGUCHI_BASE_URL` | `http://<listen>` |
    /// | `MADOGUCHI_LOG_FORMAT` | `human` (or `json`) |
    /// | `MADOGUCHI_SECRET` | generated once into `<data dir>/secret.key` (not in production) |
    /// | `MADOGUCHI_SMTP_URL` | unset: mail is written to `<data dir>/mail/` |
    /// | `MADOGUCHI_MAIL_FROM` | `個人情報お問い合わせ窓口 <privacy@example.jp>` |
    /// | `MADOGUCHI_STAFF_ADDRESS` | `privacy-office@example.jp` |
    /// | `MADOGUCHI_BUSINESS_NAME`, `_ADDRESS`, `_REPRESENTATIVE`, `_CONTACT` | sample values |
    /// | `MADOGUCHI_FEE_<KIND>` (e.g. `MADOGUCHI_FEE_DISCLOSURE`) | APPI: ¥3,000 for the two disclosure kinds, else ¥0; GDPR and CCPA: ¥0 |
    /// | `MADOGUCHI_JURISDICTION` | `appi` (`gdpr`, `ccpa`) |
    /// | `MADOGUCHI_DEADLINE_DAYS` | the jurisdiction's (APPI: 14) |
    /// | `MADOGUCHI_BUSINESS_DAYS` | `false`: count deadlines in business days when `true` |
    /// | `MADOGUCHI_IDENTITY` | `document` (`email_only`, `customer_record`): identity method of every kind not set below |
    /// | `MADOGUCHI_IDENTITY_<KIND>` (e.g. `MADOGUCHI_IDENTITY_CORRECTION`) | `MADOGUCHI_IDENTITY`, except the two disclosure kinds, which stay `document` unless set here |
    /// | `MADOGUCHI_MINOR_AGE` | `18`: a legal representative filing for an older subject is flagged to the officer |
    /// | `MADOGUCHI_RESULTS_TO` | `requester` (`subject`, `both`): who gets the results of an agent's request |
    /// | `MADOGUCHI_ENV` | `development` (or `production`) |
    /// | `MADOGUCHI_BODY_LIMIT` | `65536` bytes |
    /// | `MADOGUCHI_FILE_KEYS` | generated into `<data dir>/file-keys` (not in production) |
    /// | `MADOGUCHI_RETENTION_DAYS` | `30`: identity documents are deleted this long after closing |
    /// | `MADOGUCHI_DOWNLOAD_DAYS` | `30`: how long the answer can be downloaded after closing |
    /// | `MADOGUCHI_DOWNLOAD_LIMIT` | `5` downloads per file |
    /// | `MADOGUCHI_UPLOAD_MAX_BYTES` | `10485760` (10 MiB) per file |
    /// | `MADOGUCHI_UPLOAD_MAX_FILES` | `5` files per upload |
    /// | `MADOGUCHI_PACKAGE_MAX_BYTES` | `67108864` (64 MiB): a staff upload of answer files |
    /// | `MADOGUCHI_HEADER_TIMEOUT_SECS` | `10`: to send headers, or to sit idle between requests |
    /// | `MADOGUCHI_MAIL_LEASE_SECS` | `120`: a crashed worker's messages are resent after this |
    /// | `MADOGUCHI_GATHER_LEASE_SECS` | `300`: a crashed instance's connector job is taken again after this |
    /// | `MADOGUCHI_ERASURE_APPROVAL` | `one`: an officer orders an erasure alone; `two`: a second officer approves it |
    /// | `MADOGUCHI_DATAMAP` | unset: no data map; a path installs that file at start (`docs/datamap.md`) |
    /// | `MADOGUCHI_INTAKE_PER_IP_PER_HOUR` | `20` requests filed per client address per hour; `0` is off |
    /// | `MADOGUCHI_OIDC_ISSUER` | unset: no single sign-on; the company's OpenID provider, e.g. `https://login.example.jp` |
    /// | `MADOGUCHI_OIDC_CLIENT_ID`, `MADOGUCHI_OIDC_CLIENT_SECRET` | required with an issuer |
    /// | `MADOGUCHI_OIDC_ROLES` | required with an issuer: `claim value=role,…`, e.g. `privacy-admins=admin,privacy-office=officer` |
    /// | `MADOGUCHI_OIDC_ROLE_CLAIM` | `groups` |
    /// | `MADOGUCHI_OIDC_SCOPES` | `email profile` (besides `openid`) |
    /// | `MADOGUCHI_OIDC_PROVISION` | `false`: a person without an account is refused; `true` creates one |
    /// | `MADOGUCHI_LOCAL_LOGIN` | `true`; `false` turns staff passwords off (needs an issuer) |
    /// | `STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET` | unset: no card payment |
    /// | `STRIPE_API_BASE` | Stripe's own; tests point it at a fake |
    pub fn load() -> Result<Config, ConfigError> {
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        if let Ok(path) = std::env::var("MADOGUCHI_CONFIG") {
            vars.extend(read_toml(&path)?);
        }
        for (k, v) in std::env::vars() {
            if k == "DATABASE_URL" || k.starts_with("MADOGUCHI_") || k.starts_with("STRIPE_") {
                vars.insert(k, v);
            }
        }
        Config::from_vars(&vars)
    }

    /// Builds the configuration from a map of variables (tests build it in code).
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
        let get = |k: &str| vars.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let data_dir = PathBuf::from(get("MADOGUCHI_DATA_DIR").unwrap_or("./var"));
        let listen: SocketAddr = parse(
            get("MADOGUCHI_LISTEN").unwrap_or("127.0.0.1:8080"),
            "MADOGUCHI_LISTEN",
        )?;
        let database_url = get("DATABASE_URL").map_or_else(
            || format!("sqlite://{}/madoguchi.db", data_dir.display()),
            str::to_owned,
        );
        let is_sqlite = database_url.starts_with("sqlite:");
        let default_pool = if is_sqlite { "4" } else { "16" };
        let production = match get("MADOGUCHI_ENV").unwrap_or("development") {
            "production" => true,
            "development" | "test" => false,
            other => {
                return Err(invalid(
                    "MADOGUCHI_ENV",
                    format!("unknown environment `{other}`"),
                ));
            }
        };
        let log_format = match get("MADOGUCHI_LOG_FORMAT").unwrap_or("human") {
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "MADOGUCHI_LOG_FORMAT",
                    format!("`{other}` is not human or json"),
                ));
            }
        };
        let mail = match get("MADOGUCHI_SMTP_URL") {
            Some(url) => MailTransport::Smtp(SecretString::from(url.to_owned())),
            None if production => {
                return Err(invalid(
                    "MADOGUCHI_SMTP_URL",
                    "production needs a real SMTP relay; mail to files is for development".into(),
                ));
            }
            None => MailTransport::File(data_dir.join("mail")),
        };
        let secret = get("MADOGUCHI_SECRET").map(|s| SecretString::from(s.to_owned()));
        if production && secret.is_none() {
            return Err(invalid(
                "MADOGUCHI_SECRET",
                "production needs a shared secret".into(),
            ));
        }
        if production && get("MADOGUCHI_FILE_KEYS").is_none() {
            return Err(invalid(
                "MADOGUCHI_FILE_KEYS",
                "production needs file encryption keys from the environment".into(),
            ));
        }
        if let Some(s) = get("MADOGUCHI_SECRET")
            && s.len() < 32
        {
            return Err(invalid(
                "MADOGUCHI_SECRET",
                "use at least 32 characters".into(),
            ));
        }

        let jurisdiction = match get("MADOGUCHI_JURISDICTION") {
            Some(j) => Jurisdiction::parse(j).ok_or_else(|| {
                invalid(
                    "MADOGUCHI_JURISDICTION",
                    format!("unknown jurisdiction `{j}`"),
                )
            })?,
            None => Jurisdiction::Appi,
        };
        // Each jurisdiction's own default: a fee under APPI, none under the GDPR or the CCPA.
        let mut fees = FeeSchedule::for_jurisdiction(jurisdiction);
        for kind in RequestKind::ALL {
            let key = format!("MADOGUCHI_FEE_{}", kind.as_str().to_uppercase());
            if let Some(v) = get(&key) {
                let yen: i64 = parse(v, &key)?;
                fees.set(kind, Yen(yen))
                    .map_err(|e| invalid(&key, e.to_string()))?;
            }
        }

        let mut policy = Policy::for_jurisdiction(jurisdiction);
        let business_days: bool = parse(
            get("MADOGUCHI_BUSINESS_DAYS").unwrap_or("false"),
            "MADOGUCHI_BUSINESS_DAYS",
        )?;
        if let Some(days) = get("MADOGUCHI_DEADLINE_DAYS") {
            let days: u32 = parse(days, "MADOGUCHI_DEADLINE_DAYS")?;
            policy.deadline.period = Period::Days(days);
        }
        if business_days && let Period::Days(n) = policy.deadline.period {
            policy.deadline.period = Period::BusinessDays(n);
        }

        let method = |key: &str| -> Result<Option<IdentityMethod>, ConfigError> {
            get(key)
                .map(|v| {
                    IdentityMethod::parse(v.trim()).ok_or_else(|| {
                        invalid(
                            key,
                            format!("`{v}` is not email_only, customer_record or document"),
                        )
                    })
                })
                .transpose()
        };
        if let Some(default) = method("MADOGUCHI_IDENTITY")? {
            policy.identity = default;
            // Disclosure hands the data out: relaxing its proof must be explicit.
            for kind in [
                RequestKind::Disclosure,
                RequestKind::ThirdPartyRecordDisclosure,
            ] {
                policy
                    .identity_by_kind
                    .set(kind, Some(IdentityMethod::Document));
            }
        }
        for kind in RequestKind::ALL {
            let key = format!("MADOGUCHI_IDENTITY_{}", kind.as_str().to_uppercase());
            if let Some(m) = method(&key)? {
                policy.identity_by_kind.set(kind, Some(m));
            }
        }
        // Only overrides that differ from the default are kept in the snapshot.
        for kind in RequestKind::ALL {
            if policy.identity_by_kind.get(kind) == Some(policy.identity) {
                policy.identity_by_kind.set(kind, None);
            }
        }
        let minor_age: u32 = parse(
            get("MADOGUCHI_MINOR_AGE").unwrap_or("18"),
            "MADOGUCHI_MINOR_AGE",
        )?;
        if !(1..=30).contains(&minor_age) {
            return Err(invalid(
                "MADOGUCHI_MINOR_AGE",
                format!("{minor_age} is not an age of majority (1 to 30)"),
            ));
        }
        let results_to = match get("MADOGUCHI_RESULTS_TO") {
            Some(v) => ResultsTo::parse(v.trim()).ok_or_else(|| {
                invalid(
                    "MADOGUCHI_RESULTS_TO",
                    format!("`{v}` is not requester, subject or both"),
                )
            })?,
            None => ResultsTo::Requester,
        };

        let sso = match get("MADOGUCHI_OIDC_ISSUER") {
            None => None,
            Some(issuer) => {
                let required = |key: &str| {
                    get(key).map(str::to_owned).ok_or_else(|| {
                        invalid(key, "required when MADOGUCHI_OIDC_ISSUER is set".into())
                    })
                };
                let roles = RoleMap::parse(&required("MADOGUCHI_OIDC_ROLES")?)
                    .map_err(|m| invalid("MADOGUCHI_OIDC_ROLES", m))?;
                Some(SsoConfig {
                    issuer: issuer.trim().to_owned(),
                    client_id: required("MADOGUCHI_OIDC_CLIENT_ID")?,
                    client_secret: SecretString::from(required("MADOGUCHI_OIDC_CLIENT_SECRET")?),
                    scopes: get("MADOGUCHI_OIDC_SCOPES")
                        .unwrap_or("email profile")
                        .to_owned(),
                    role_claim: get("MADOGUCHI_OIDC_ROLE_CLAIM")
                        .unwrap_or("groups")
                        .trim()
                        .to_owned(),
                    roles,
                    provision: parse(
                        get("MADOGUCHI_OIDC_PROVISION").unwrap_or("false"),
                        "MADOGUCHI_OIDC_PROVISION",
                    )?,
                })
            }
        };
        let local_login: bool = parse(
            get("MADOGUCHI_LOCAL_LOGIN").unwrap_or("true"),
            "MADOGUCHI_LOCAL_LOGIN",
        )?;
        if !local_login && sso.is_none() {
            return Err(invalid(
                "MADOGUCHI_LOCAL_LOGIN",
                "staff could not sign in at all: set up single sign-on (MADOGUCHI_OIDC_ISSUER) first".into(),
            ));
        }

        let base_url = get("MADOGUCHI_BASE_URL").map_or_else(
            || format!("http://{listen}"),
            |u| u.trim_end_matches('/').to_owned(),
        );

        Ok(Config {
            db_max_connections: parse(
                get("MADOGUCHI_DB_MAX_CONNECTIONS").unwrap_or(default_pool),
                "MADOGUCHI_DB_MAX_CONNECTIONS",
            )?,
            database_url,
            listen,
            require_totp: parse(
                get("MADOGUCHI_REQUIRE_TOTP").unwrap_or("false"),
                "MADOGUCHI_REQUIRE_TOTP",
            )?,
            metrics_listen: get("MADOGUCHI_METRICS_LISTEN")
                .map(|v| parse(v, "MADOGUCHI_METRICS_LISTEN"))
                .transpose()?,
            base_url,
            log_format,
            secret,
            mail,
            mail_from: get("MADOGUCHI_MAIL_FROM")
                .unwrap_or("個人情報お問い合わせ窓口 <privacy@example.jp>")
                .to_owned(),
            staff_address: get("MADOGUCHI_STAFF_ADDRESS")
                .unwrap_or("privacy-office@example.jp")
                .to_owned(),
            business: Business {
                name: get("MADOGUCHI_BUSINESS_NAME")
                    .unwrap_or("株式会社サンプル")
                    .to_owned(),
                address: get("MADOGUCHI_BUSINESS_ADDRESS")
                    .unwrap_or("東京都千代田区千代田1-1")
                    .to_owned(),
                representative: get("MADOGUCHI_BUSINESS_REPRESENTATIVE")
                    .unwrap_or("代表取締役 山田太郎")
                    .to_owned(),
                contact: get("MADOGUCHI_BUSINESS_CONTACT")
                    .unwrap_or("privacy@example.jp")
                    .to_owned(),
            },
            fees,
            policy,
            production,
            stripe: match (get("STRIPE_SECRET_KEY"), get("STRIPE_WEBHOOK_SECRET")) {
                (Some(k), Some(w)) => Some(StripeConfig {
                    secret_key: SecretString::from(k.to_owned()),
                    webhook_secret: SecretString::from(w.to_owned()),
                    api_base: get("STRIPE_API_BASE").map(str::to_owned),
                }),
                (None, None) => None,
                _ => {
                    return Err(invalid(
                        "STRIPE_WEBHOOK_SECRET",
                        "set both STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET, or neither".into(),
                    ));
                }
            },
            other_vars: OtherVars(
                vars.iter()
                    .filter(|(k, _)| {
                        !(k.as_str() == "DATABASE_URL"
                            || k.starts_with("MADOGUCHI_")
                            || k.starts_with("STRIPE_"))
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            datamap: get("MADOGUCHI_DATAMAP")
                .filter(|p| !p.trim().is_empty())
                .map(PathBuf::from),
            file_keys: get("MADOGUCHI_FILE_KEYS").map(|s| SecretString::from(s.to_owned())),
            retention_days: parse(
                get("MADOGUCHI_RETENTION_DAYS").unwrap_or("30"),
                "MADOGUCHI_RETENTION_DAYS",
            )?,
            download_days: parse(
                get("MADOGUCHI_DOWNLOAD_DAYS").unwrap_or("30"),
                "MADOGUCHI_DOWNLOAD_DAYS",
            )?,
            download_limit: parse(
                get("MADOGUCHI_DOWNLOAD_LIMIT").unwrap_or("5"),
                "MADOGUCHI_DOWNLOAD_LIMIT",
            )?,
            upload_max_bytes: parse(
                get("MADOGUCHI_UPLOAD_MAX_BYTES").unwrap_or("10485760"),
                "MADOGUCHI_UPLOAD_MAX_BYTES",
            )?,
            mail_lease_secs: parse(
                get("MADOGUCHI_MAIL_LEASE_SECS").unwrap_or("120"),
                "MADOGUCHI_MAIL_LEASE_SECS",
            )?,
            gather_lease_secs: parse(
                get("MADOGUCHI_GATHER_LEASE_SECS").unwrap_or("300"),
                "MADOGUCHI_GATHER_LEASE_SECS",
            )?,
            erasure_needs_two: match get("MADOGUCHI_ERASURE_APPROVAL").unwrap_or("one") {
                "one" => false,
                "two" => true,
                other => {
                    return Err(ConfigError::Invalid {
                        key: "MADOGUCHI_ERASURE_APPROVAL".into(),
                        message: format!("{other:?} is neither one nor two"),
                    });
                }
            },
            upload_max_files: parse(
                get("MADOGUCHI_UPLOAD_MAX_FILES").unwrap_or("5"),
                "MADOGUCHI_UPLOAD_MAX_FILES",
            )?,
            package_max_bytes: parse(
                get("MADOGUCHI_PACKAGE_MAX_BYTES").unwrap_or("67108864"),
                "MADOGUCHI_PACKAGE_MAX_BYTES",
            )?,
            header_timeout_secs: parse(
                get("MADOGUCHI_HEADER_TIMEOUT_SECS").unwrap_or("10"),
                "MADOGUCHI_HEADER_TIMEOUT_SECS",
            )?,
            body_limit: parse(
                get("MADOGUCHI_BODY_LIMIT").unwrap_or("65536"),
                "MADOGUCHI_BODY_LIMIT",
            )?,
            intake_per_ip_per_hour: parse(
                get("MADOGUCHI_INTAKE_PER_IP_PER_HOUR").unwrap_or("20"),
                "MADOGUCHI_INTAKE_PER_IP_PER_HOUR",
            )?,
            minor_age,
            results_to,
            trusted_proxies: get("MADOGUCHI_TRUSTED_PROXIES")
                .unwrap_or("")
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| {
                    Network::parse(s).ok_or_else(|| ConfigError::Invalid {
                        key: "MADOGUCHI_TRUSTED_PROXIES".into(),
                        message: format!("{s:?} is not an address or a network like 10.0.0.0/8"),
                    })
                })
                .collect::<Result<_, _>>()?,
            data_dir,
            sso,
            local_login,
        })
    }

    /// True when the database is SQLite.
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

fn invalid(key: &str, message: String) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message,
    }
}

fn parse<T: std::str::FromStr>(v: &str, key: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    v.trim()
        .parse()
        .map_err(|e: T::Err| invalid(key, e.to_string()))
}

fn read_toml(path: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let file_err = |message: String| ConfigError::File {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| file_err(e.to_string()))?;
    let mut out = BTreeMap::new();
    for (k, v) in table {
        let value = match v {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => {
                return Err(file_err(format!(
                    "`{k}` must be a string, integer or boolean"
                )));
            }
        };
        let key = if k == "database_url" {
            "DATABASE_URL".to_owned()
        } else {
            format!("MADOGUCHI_{}", k.to_uppercase())
        };
        out.insert(key, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn embedded_defaults() {
        let c = Config::from_vars(&BTreeMap::new()).unwrap();
        assert_eq!(c.database_url, "sqlite://./var/madoguchi.db");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.base_url, "http://127.0.0.1:8080");
        assert!(matches!(c.mail, MailTransport::File(_)));
        assert_eq!(c.fees.fee(RequestKind::Disclosure), Yen(3000));
        assert_eq!(c.policy, Policy::appi());
        assert_eq!(c.intake_per_ip_per_hour, 20);
    }

    #[test]
    fn single_sign_on_needs_its_client_and_roles_and_passwords_go_only_with_it() {
        let c = Config::from_vars(&BTreeMap::new()).unwrap();
        assert!(c.sso.is_none() && c.local_login);
        let full = [
            ("MADOGUCHI_OIDC_ISSUER", "https://login.example.jp"),
            ("MADOGUCHI_OIDC_CLIENT_ID", "madoguchi"),
            ("MADOGUCHI_OIDC_CLIENT_SECRET", "s3cret"),
            (
                "MADOGUCHI_OIDC_ROLES",
                "privacy-admins=admin,privacy=officer",
            ),
            ("MADOGUCHI_LOCAL_LOGIN", "false"),
        ];
        let c = Config::from_vars(&vars(&full)).unwrap();
        let sso = c.sso.expect("configured");
        assert_eq!(sso.role_claim, "groups");
        assert_eq!(sso.scopes, "email profile");
        assert!(!sso.provision && !c.local_login);
        assert_eq!(
            sso.roles.role_for(Some(&serde_json::json!(["privacy"]))),
            Some(madoguchi_domain::Role::Officer)
        );
        for missing in [
            "MADOGUCHI_OIDC_CLIENT_ID",
            "MADOGUCHI_OIDC_CLIENT_SECRET",
            "MADOGUCHI_OIDC_ROLES",
        ] {
            let partial: Vec<_> = full
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            let err = Config::from_vars(&vars(&partial)).unwrap_err().to_string();
            assert!(err.starts_with(missing), "{err}");
        }
        let err = Config::from_vars(&vars(&[
            ("MADOGUCHI_OIDC_ISSUER", "https://login.example.jp"),
            ("MADOGUCHI_OIDC_CLIENT_ID", "madoguchi"),
            ("MADOGUCHI_OIDC_CLIENT_SECRET", "s3cret"),
            ("MADOGUCHI_OIDC_ROLES", "privacy=superuser"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("superuser"), "{err}");
        let err = Config::from_vars(&vars(&[("MADOGUCHI_LOCAL_LOGIN", "false")]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("MADOGUCHI_LOCAL_LOGIN"), "{err}");
    }

    #[test]
    fn the_intake_limit_is_read_and_checked() {
        let c = Config::from_vars(&vars(&[("MADOGUCHI_INTAKE_PER_IP_PER_HOUR", "0")])).unwrap();
        assert_eq!(c.intake_per_ip_per_hour, 0);
        let err =
            Config::from_vars(&vars(&[("MADOGUCHI_INTAKE_PER_IP_PER_HOUR", "-1")])).unwrap_err();
        assert!(err.to_string().contains("MADOGUCHI_INTAKE_PER_IP_PER_HOUR"));
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let c = Config::from_vars(&vars(&[(
            "MADOGUCHI_TRUSTED_PROXIES",
            "127.0.0.1, 10.0.0.0/8,fd00::/8",
        )]))
        .unwrap();
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let trusted = |s: &str| c.trusted_proxies.iter().any(|n| n.contains(ip(s)));
        assert!(trusted("127.0.0.1"));
        assert!(trusted("::ffff:127.0.0.1"), "IPv4-mapped");
        assert!(trusted("10.200.3.4"));
        assert!(trusted("fd12::1"));
        assert!(!trusted("127.0.0.2"));
        assert!(!trusted("11.0.0.1"));
        assert!(!trusted("2001:db8::1"));
        assert!(
            Config::from_vars(&BTreeMap::new())
                .unwrap()
                .trusted_proxies
                .is_empty()
        );
        for bad in ["10.0.0.0/33", "proxy.local", "10.0.0.0/x"] {
            let err = Config::from_vars(&vars(&[("MADOGUCHI_TRUSTED_PROXIES", bad)])).unwrap_err();
            assert!(
                err.to_string().contains("MADOGUCHI_TRUSTED_PROXIES"),
                "{bad}"
            );
        }
    }

    #[test]
    fn production_refuses_mail_to_files_and_missing_secret() {
        assert!(Config::from_vars(&vars(&[("MADOGUCHI_ENV", "production")])).is_err());
        assert!(
            Config::from_vars(&vars(&[
                ("MADOGUCHI_ENV", "production"),
                ("MADOGUCHI_SMTP_URL", "smtp://localhost:25"),
            ]))
            .is_err()
        );
    }

    #[test]
    fn fees_are_checked_against_article_38() {
        // The fee follows the jurisdiction unless set.
        for (j, expected) in [("appi", 3000), ("gdpr", 0), ("ccpa", 0)] {
            let c = Config::from_vars(&vars(&[("MADOGUCHI_JURISDICTION", j)])).unwrap();
            assert_eq!(c.fees.fee(RequestKind::Disclosure), Yen(expected), "{j}");
        }
        let c = Config::from_vars(&vars(&[
            ("MADOGUCHI_JURISDICTION", "gdpr"),
            ("MADOGUCHI_FEE_DISCLOSURE", "1000"),
        ]))
        .unwrap();
        assert_eq!(c.fees.fee(RequestKind::Disclosure), Yen(1000));
        let err = Config::from_vars(&vars(&[("MADOGUCHI_FEE_CORRECTION", "500")])).unwrap_err();
        assert!(err.to_string().contains("MADOGUCHI_FEE_CORRECTION"));
        let c = Config::from_vars(&vars(&[("MADOGUCHI_FEE_DISCLOSURE", "1000")])).unwrap();
        assert_eq!(c.fees.fee(RequestKind::Disclosure), Yen(1000));
    }

    #[test]
    fn identity_methods_are_set_per_kind_and_disclosure_stays_on_documents() {
        let c = Config::from_vars(&BTreeMap::new()).unwrap();
        for kind in RequestKind::ALL {
            assert_eq!(c.policy.identity_for(kind), IdentityMethod::Document);
        }
        assert_eq!(c.minor_age, 18);
        assert_eq!(c.results_to, ResultsTo::Requester);

        let c = Config::from_vars(&vars(&[
            ("MADOGUCHI_IDENTITY", "email_only"),
            ("MADOGUCHI_IDENTITY_CORRECTION", "customer_record"),
        ]))
        .unwrap();
        let m = |k| c.policy.identity_for(k);
        assert_eq!(m(RequestKind::Disclosure), IdentityMethod::Document);
        assert_eq!(
            m(RequestKind::ThirdPartyRecordDisclosure),
            IdentityMethod::Document
        );
        assert_eq!(m(RequestKind::Correction), IdentityMethod::CustomerRecord);
        assert_eq!(m(RequestKind::ThirdPartyStop), IdentityMethod::EmailOnly);

        let c = Config::from_vars(&vars(&[(
            "MADOGUCHI_IDENTITY_DISCLOSURE",
            "customer_record",
        )]))
        .unwrap();
        assert_eq!(
            c.policy.identity_for(RequestKind::Disclosure),
            IdentityMethod::CustomerRecord
        );
        assert_eq!(
            c.policy.identity_for(RequestKind::Correction),
            IdentityMethod::Document
        );

        for (key, bad) in [
            ("MADOGUCHI_IDENTITY", "passport"),
            ("MADOGUCHI_IDENTITY_CORRECTION", "EMAIL"),
            ("MADOGUCHI_MINOR_AGE", "0"),
            ("MADOGUCHI_MINOR_AGE", "eighteen"),
            ("MADOGUCHI_RESULTS_TO", "agent"),
        ] {
            let err = Config::from_vars(&vars(&[(key, bad)])).unwrap_err();
            assert!(err.to_string().contains(key), "{key}={bad}: {err}");
        }
        let c = Config::from_vars(&vars(&[
            ("MADOGUCHI_MINOR_AGE", "20"),
            ("MADOGUCHI_RESULTS_TO", "both"),
        ]))
        .unwrap();
        assert_eq!((c.minor_age, c.results_to), (20, ResultsTo::Both));
    }

    #[test]
    fn business_days_switch_the_deadline_unit() {
        let c = Config::from_vars(&vars(&[("MADOGUCHI_BUSINESS_DAYS", "true")])).unwrap();
        assert_eq!(c.policy.deadline.period, Period::BusinessDays(14));
    }
}
