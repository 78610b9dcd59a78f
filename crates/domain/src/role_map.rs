//! Staff roles from an identity provider's claim (single sign-on): the administrator names the claim (e.g. `groups`) and
//! which of its values grant which role. No IO.

use crate::Role;
use serde_json::Value;

/// Claim values and the role each grants, e.g. `madoguchi-admins=admin,…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMap(Vec<(String, Role)>);

impl RoleMap {
    /// Parses `value=role` pairs separated by commas (roles: admin, officer, auditor). A value
    /// named twice is refused: which role it grants would depend on the order.
    pub fn parse(text: &str) -> Result<RoleMap, String> {
        let mut pairs: Vec<(String, Role)> = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (value, role) = item
                .rsplit_once('=')
                .ok_or_else(|| format!("`{item}` is not value=role"))?;
            let value = value.trim();
            let role = Role::parse(role.trim())
                .ok_or_else(|| format!("`{}` is not admin, officer or auditor", role.trim()))?;
            if value.is_empty() {
                return Err(format!("`{item}` names no claim value"));
            }
            if pairs.iter().any(|(v, _)| v == value) {
                return Err(format!("`{value}` is named twice"));
            }
            pairs.push((value.to_owned(), role));
        }
        if pairs.is_empty() {
            return Err("name at least one value=role".into());
        }
        Ok(RoleMap(pairs))
    }

    /// The role the claim grants: the widest of the roles its values map to (a person in
    /// both the administrators' and the officers' group administers), or `None` when no value
    /// is mapped. The claim may be one string or a list of strings; other values grant nothing.
    pub fn role_for(&self, claim: Option<&Value>) -> Option<Role> {
        let values: Vec<&str> = match claim {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        self.0
            .iter()
            .filter(|(v, _)| values.contains(&v.as_str()))
            .map(|(_, role)| *role)
            .min_by_key(|role| rank(*role))
    }
}

/// Lower is wider.
fn rank(role: Role) -> u8 {
    match role {
        Role::Admin => 0,
        Role::Officer => 1,
        Role::Auditor => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map() -> RoleMap {
        RoleMap::parse("dsar-admins=admin, dsar-officers = officer,auditors=auditor").unwrap()
    }

    #[test]
    fn each_value_grants_its_role_and_the_widest_wins() {
        let m = map();
        let cases = [
            (json!(["dsar-officers"]), Some(Role::Officer)),
            (json!("auditors"), Some(Role::Auditor)),
            (json!(["auditors", "dsar-officers"]), Some(Role::Officer)),
            (
                json!(["dsar-officers", "dsar-admins", "auditors"]),
                Some(Role::Admin),
            ),
            (json!(["sales", "everyone"]), None),
            (json!([]), None),
            (json!("DSAR-ADMINS"), None),
            (json!(["dsar-admins-extra"]), None),
            (json!(42), None),
            (json!({"dsar-admins": true}), None),
            (json!([1, "auditors"]), Some(Role::Auditor)),
        ];
        for (claim, want) in cases {
            assert_eq!(m.role_for(Some(&claim)), want, "{claim}");
        }
        assert_eq!(m.role_for(None), None);
    }

    #[test]
    fn a_malformed_map_is_refused_in_words() {
        for (text, words) in [
            ("", "at least one"),
            ("admins", "not value=role"),
            ("admins=root", "not admin, officer or auditor"),
            ("=admin", "names no claim value"),
            ("a=admin,a=auditor", "named twice"),
        ] {
            let err = RoleMap::parse(text).unwrap_err();
            assert!(err.contains(words), "{text}: {err}");
        }
    }

    #[test]
    fn a_value_may_itself_hold_an_equals_sign() {
        let m = RoleMap::parse("team=privacy=officer").unwrap();
        assert_eq!(
            m.role_for(Some(&json!("team=privacy"))),
            Some(Role::Officer)
        );
    }
}
