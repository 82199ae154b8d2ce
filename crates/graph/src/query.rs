//! OData query options and Graph's query annotations. `$top` and `top` (and `%24top`) are the
//! same option.

use graphdrive_drive::items::ChildOrder;
use graphdrive_drive::names::ConflictBehavior;

use crate::error::{GraphError, GraphResult};

pub const DEFAULT_PAGE: i64 = 200;
pub const MAX_PAGE: i64 = 1000;

#[derive(Clone, Debug, Default)]
pub struct QueryOptions {
    pub top: Option<i64>,
    pub select: Option<Vec<String>>,
    /// `$expand=children`, with the children's own `$select` if given.
    pub expand_children: Option<Option<Vec<String>>>,
    pub order: Option<ChildOrder>,
    pub skip_token: Option<String>,
    pub conflict: Option<ConflictBehavior>,
    /// Every pair as received (decoded), to rebuild `@odata.nextLink`.
    pub pairs: Vec<(String, String)>,
}

fn bad(option: &str, value: &str) -> GraphError {
    GraphError::invalid_request(format!(
        "Invalid value \"{value}\" for query option {option}."
    ))
    .with_inner("invalidQueryOption")
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

impl QueryOptions {
    pub fn parse(raw: Option<&str>) -> GraphResult<Self> {
        let mut q = QueryOptions::default();
        let Some(raw) = raw else { return Ok(q) };
        for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
            let (key, value) = (key.into_owned(), value.into_owned());
            let name = key.trim_start_matches('$').to_ascii_lowercase();
            match name.as_str() {
                "top" => {
                    let n: i64 = value.trim().parse().map_err(|_| bad("$top", &value))?;
                    if n < 1 {
                        return Err(bad("$top", &value));
                    }
                    q.top = Some(n.min(MAX_PAGE));
                }
                "select" => q.select = Some(list(&value)),
                "expand" => q.expand_children = Some(parse_expand(&value)?),
                "orderby" => q.order = Some(parse_order(&value)?),
                "skiptoken" => q.skip_token = Some(value.clone()),
                "@microsoft.graph.conflictbehavior" => {
                    q.conflict =
                        Some(ConflictBehavior::parse(&value).map_err(|_| bad(&key, &value))?)
                }
                _ => {}
            }
            q.pairs.push((key, value));
        }
        Ok(q)
    }

    pub fn page_size(&self) -> i64 {
        self.top.unwrap_or(DEFAULT_PAGE)
    }
}

/// `children`, `children(select=id,name)` or `children($select=id,name)`.
fn parse_expand(value: &str) -> GraphResult<Option<Vec<String>>> {
    let v = value.trim();
    let Some(rest) = v.strip_prefix("children") else {
        return Err(bad("$expand", value));
    };
    if rest.is_empty() {
        return Ok(None);
    }
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| bad("$expand", value))?;
    let select = inner.split(';').find_map(|opt| {
        let (k, v) = opt.split_once('=')?;
        (k.trim()
            .trim_start_matches('$')
            .eq_ignore_ascii_case("select"))
        .then(|| list(v))
    });
    Ok(select)
}

fn parse_order(value: &str) -> GraphResult<ChildOrder> {
    let mut parts = value.split_whitespace();
    let field = parts.next().unwrap_or("");
    let dir = parts.next().unwrap_or("asc");
    if !field.eq_ignore_ascii_case("name") {
        return Err(GraphError::invalid_request(format!(
            "Ordering by \"{field}\" is not supported; order by name."
        ))
        .with_inner("invalidQueryOption"));
    }
    match dir.to_ascii_lowercase().as_str() {
        "asc" => Ok(ChildOrder::NameAsc),
        "desc" => Ok(ChildOrder::NameDesc),
        _ => Err(bad("$orderby", value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_is_optional_and_may_be_encoded() {
        let a = QueryOptions::parse(Some("$top=5&$select=id,name")).unwrap();
        let b = QueryOptions::parse(Some("%24top=5&select=id%2Cname")).unwrap();
        assert_eq!(a.top, Some(5));
        assert_eq!(b.top, Some(5));
        assert_eq!(a.select, b.select);
    }

    #[test]
    fn rejects_bad_values() {
        assert!(QueryOptions::parse(Some("$top=abc")).is_err());
        assert!(QueryOptions::parse(Some("$top=0")).is_err());
        assert!(QueryOptions::parse(Some("$orderby=size")).is_err());
        assert!(QueryOptions::parse(Some("@microsoft.graph.conflictBehavior=maybe")).is_err());
    }

    #[test]
    fn expand_children_with_select() {
        let q = QueryOptions::parse(Some("expand=children(select=id,name)")).unwrap();
        assert_eq!(
            q.expand_children,
            Some(Some(vec!["id".into(), "name".into()]))
        );
        let q = QueryOptions::parse(Some("$expand=children")).unwrap();
        assert_eq!(q.expand_children, Some(None));
        let q = QueryOptions::parse(Some(
            "$orderby=name desc&@microsoft.graph.conflictBehavior=rename",
        ))
        .unwrap();
        assert_eq!(q.order, Some(ChildOrder::NameDesc));
        assert_eq!(q.conflict, Some(ConflictBehavior::Rename));
    }
}
