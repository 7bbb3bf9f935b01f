//! The dashboard's query string ([`PageParams`]): filter fields as an HTML form sends them
//! (empty means unset), checked into a [`JobFilter`] with one-line errors for a 400 page.

use chrono::NaiveDate;
use serde::Deserialize;

use crate::analysis::Severity;
use crate::history::{JobFilter, SEVERITIES};

/// Longest trend window a page draws, about ten years.
pub const MAX_DAYS: u32 = 3660;
/// Default trend window.
pub const DEFAULT_DAYS: u32 = 30;

/// Every query parameter any page reads. Strings, so an empty form field or a typo becomes
/// our own message rather than a generic deserialisation error.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageParams {
    pub repo: Option<String>,
    pub severity: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub test: Option<String>,
    pub days: Option<String>,
    pub page: Option<String>,
}

/// A query parameter that does not parse; the message names it and says what is expected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid `{name}` parameter `{value}`: {expected}")]
pub struct ParamError {
    pub name: &'static str,
    pub value: String,
    pub expected: String,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Dates a page accepts: wide enough for any recorded job, narrow enough that a request
/// cannot ask for millennia of days.
fn date_bounds() -> (NaiveDate, NaiveDate) {
    (
        NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date"),
        NaiveDate::from_ymd_opt(9999, 12, 31).expect("a valid date"),
    )
}

fn date(name: &'static str, value: &Option<String>) -> Result<Option<NaiveDate>, ParamError> {
    let (earliest, latest) = date_bounds();
    given(value)
        .map(|text| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .filter(|d| (earliest..=latest).contains(d))
                .ok_or_else(|| ParamError {
                    name,
                    value: text.to_string(),
                    expected: format!("expected a date as YYYY-MM-DD from {earliest} to {latest}"),
                })
        })
        .transpose()
}

fn number(
    name: &'static str,
    value: &Option<String>,
    range: std::ops::RangeInclusive<u32>,
) -> Result<Option<u32>, ParamError> {
    given(value)
        .map(|text| {
            text.parse::<u32>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| ParamError {
                    name,
                    value: text.to_string(),
                    expected: format!(
                        "expected a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                })
        })
        .transpose()
}

impl PageParams {
    /// The job selection these parameters describe.
    pub fn filter(&self) -> Result<JobFilter, ParamError> {
        let severity = given(&self.severity)
            .map(|text| {
                SEVERITIES
                    .into_iter()
                    .find(|s| s.name() == text)
                    .ok_or_else(|| ParamError {
                        name: "severity",
                        value: text.to_string(),
                        expected: format!(
                            "expected one of {}",
                            SEVERITIES.map(Severity::name).join(", ")
                        ),
                    })
            })
            .transpose()?;
        let from = date("from", &self.from)?;
        let to = date("to", &self.to)?;
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(ParamError {
                name: "to",
                value: to.to_string(),
                expected: format!("expected a date on or after `from` ({from})"),
            });
        }
        // The trend draws one point per day from `from` to `to` (or today): bound the span
        // as `days` is bounded, so no query string costs seconds and megabytes.
        if let Some(from) = from {
            let last = to
                .unwrap_or_else(|| chrono::Utc::now().date_naive())
                .max(from);
            if (last - from).num_days() >= i64::from(MAX_DAYS) {
                return Err(ParamError {
                    name: "from",
                    value: from.to_string(),
                    expected: format!(
                        "expected at most {MAX_DAYS} days between `from` and `to` (or today, {last})"
                    ),
                });
            }
        }
        Ok(JobFilter {
            repo: given(&self.repo).map(str::to_string),
            severity,
            from,
            to,
            test: given(&self.test).map(str::to_string),
        })
    }

    /// The trend window in days.
    pub fn days(&self) -> Result<u32, ParamError> {
        Ok(number("days", &self.days, 1..=MAX_DAYS)?.unwrap_or(DEFAULT_DAYS))
    }

    /// The 1-based page of a list.
    pub fn page(&self) -> Result<u32, ParamError> {
        Ok(number("page", &self.page, 1..=1_000_000)?.unwrap_or(1))
    }
}

/// The query string that selects `filter` (plus `extra` pairs), for links that keep the
/// current selection; empty when nothing is selected.
pub fn query_string(filter: &JobFilter, extra: &[(&str, String)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let dates = [("from", filter.from), ("to", filter.to)];
    let pairs = [
        ("repo", filter.repo.clone()),
        ("severity", filter.severity.map(|s| s.name().to_string())),
        ("test", filter.test.clone()),
    ]
    .into_iter()
    .chain(dates.map(|(k, d)| (k, d.map(|d| d.to_string()))))
    .filter_map(|(k, v)| Some((k, v?)))
    .chain(extra.iter().map(|(k, v)| (*k, v.clone())));
    let mut any = false;
    for (key, value) in pairs {
        query.append_pair(key, &value);
        any = true;
    }
    if any {
        format!("?{}", query.finish())
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> PageParams {
        let text = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        serde_urlencoded_like(&text)
    }

    /// Parses a query string the way axum's `Query` does (serde over urlencoded pairs).
    fn serde_urlencoded_like(text: &str) -> PageParams {
        let map: serde_json::Map<String, serde_json::Value> =
            url::form_urlencoded::parse(text.as_bytes())
                .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
                .collect();
        serde_json::from_value(serde_json::Value::Object(map)).expect("strings deserialize")
    }

    #[test]
    fn empty_form_fields_select_everything() {
        let p = params(&[("repo", ""), ("severity", ""), ("from", " "), ("to", "")]);
        assert!(p.filter().expect("empty fields are valid").is_empty());
        assert_eq!(p.days(), Ok(DEFAULT_DAYS));
        assert_eq!(p.page(), Ok(1));
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let bad = params(&[("severity", "awful")])
            .filter()
            .expect_err("refused");
        assert_eq!(
            bad.to_string(),
            "invalid `severity` parameter `awful`: expected one of none, low, medium, high, critical"
        );
        let bad = params(&[("from", "2026-13-01")])
            .filter()
            .expect_err("refused");
        assert!(
            bad.to_string().starts_with("invalid `from` parameter"),
            "{bad}"
        );
        let bad = params(&[("from", "2026-02-02"), ("to", "2026-02-01")])
            .filter()
            .expect_err("refused");
        assert_eq!(bad.name, "to");
        assert!(params(&[("days", "0")]).days().is_err());
        assert!(params(&[("page", "x")]).page().is_err());
    }

    #[test]
    fn dates_and_spans_are_bounded() {
        for (from, to) in [("0001-01-01", ""), ("2020-01-01", "+60000-01-01")] {
            let bad = params(&[("from", from), ("to", to)])
                .filter()
                .expect_err("out of range");
            assert!(bad.expected.contains("1970-01-01 to 9999-12-31"), "{bad}");
        }
        let bad = params(&[("from", "1970-01-01"), ("to", "9999-12-31")])
            .filter()
            .expect_err("too long a span");
        assert_eq!(bad.name, "from");
        assert!(bad.to_string().contains("at most 3660 days"), "{bad}");
        let ok = params(&[("from", "2020-01-01"), ("to", "2029-12-31")]).filter();
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn a_filter_round_trips_through_its_query_string() {
        let filter = params(&[
            ("repo", "https://example.com/a b&c"),
            ("severity", "high"),
            ("from", "2026-01-02"),
        ])
        .filter()
        .expect("valid");
        let query = query_string(&filter, &[("page", "2".into())]);
        let back = serde_urlencoded_like(query.trim_start_matches('?'));
        assert_eq!(back.filter().expect("valid"), filter);
        assert_eq!(back.page(), Ok(2));
        assert_eq!(query_string(&JobFilter::default(), &[]), "");
    }
}
