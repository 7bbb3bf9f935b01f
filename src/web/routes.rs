//! The dashboard's routes ([`router`]): one handler per page, each reading history in
//! `spawn_blocking` and rendering a template. Links start with the path the router is
//! nested under, so `serve` can mount it at `/dashboard` and the CLI at `/`.

use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRequestParts, NestedPath, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Router, http};
use chrono::{Days, Utc};

use super::job_page::JobPage;
use super::pages::{
    Chrome, DayItem, FilterForm, JobItem, JobsPage, MessagePage, OverviewPage, SeverityItem,
    SeverityPage, Stats, TestItem, TestsPage, TrendPage, severity_chart, trend_chart,
};
use super::params::{PageParams, ParamError, query_string};
use super::status_page::{Quarantine, QuarantineDir, StatusPage};
use crate::errors::one_line;
use crate::history::{HistoryError, JobFilter, RunId, Store};

/// Jobs per page of the job list.
pub const JOBS_PER_PAGE: usize = 50;
/// Rows of the flakiest-tests page.
pub const TESTS_SHOWN: usize = 100;

/// The dashboard, to serve alone or nest under a prefix with `Router::nest` (links follow
/// the prefix; see [`mounted`] for the trailing-slash form of the prefix).
pub fn router(store: Arc<Store>) -> Router {
    router_with(store, QuarantineDir(None))
}

/// [`router`] whose status page reads the rules and quarantine file of a repository folder.
pub fn router_with(store: Arc<Store>, quarantine: QuarantineDir) -> Router {
    Router::new()
        .route("/", get(overview))
        .route("/trend", get(trend))
        .route("/tests", get(tests))
        .route("/status", get(status))
        .route("/severity", get(severity))
        .route("/jobs", get(jobs))
        .route("/jobs/{id}", get(job))
        .fallback(not_found)
        .layer(axum::Extension(quarantine))
        .with_state(store)
}

/// The dashboard nested at `prefix` (such as `/dashboard`), with `prefix/` redirected to
/// `prefix`: axum routes only the bare prefix into a nested router's `/`.
pub fn mounted(prefix: &str, store: Arc<Store>) -> Router {
    let prefix = prefix.trim_end_matches('/').to_string();
    let target = prefix.clone();
    Router::new()
        .route(
            &format!("{prefix}/"),
            get(move || async move { axum::response::Redirect::permanent(&target) }),
        )
        .nest(&prefix, router(store))
}

/// The prefix the router is nested under, `""` when it is not.
pub struct Base(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Base {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Base, Self::Rejection> {
        let nested = parts.extensions.get::<NestedPath>().map(NestedPath::as_str);
        Ok(Base(nested.unwrap_or("").trim_end_matches('/').to_string()))
    }
}

/// Why a page could not be shown.
enum PageError {
    BadRequest(ParamError),
    NotFound(String),
    Internal(String),
}

impl From<ParamError> for PageError {
    fn from(e: ParamError) -> PageError {
        PageError::BadRequest(e)
    }
}

impl From<HistoryError> for PageError {
    fn from(e: HistoryError) -> PageError {
        PageError::Internal(one_line(&e))
    }
}

/// A page error with the frame to show it in.
struct Failed(Base, PageError);

impl IntoResponse for Failed {
    fn into_response(self) -> Response {
        let Failed(Base(base), error) = self;
        let (status, title, message) = match error {
            PageError::BadRequest(e) => (StatusCode::BAD_REQUEST, "Bad request", e.to_string()),
            PageError::NotFound(what) => (StatusCode::NOT_FOUND, "Not found", what),
            PageError::Internal(detail) => {
                tracing::error!(error = %detail, "dashboard page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Error",
                    "the history database could not be read; the server log has the details"
                        .to_string(),
                )
            }
        };
        let page = MessagePage {
            chrome: chrome(
                base,
                "",
                FilterForm::new(&JobFilter::default(), vec![], None),
            ),
            title: title.to_string(),
            message,
        };
        (status, render(&page)).into_response()
    }
}

type PageResult = Result<Html<String>, Failed>;

fn render<T: Template>(page: &T) -> Html<String> {
    match page.render() {
        Ok(html) => Html(html),
        // Rendering only fails on a writer error, which a String never gives.
        Err(e) => Html(format!("<!doctype html><p>cannot render the page: {e}</p>")),
    }
}

fn chrome(base: String, active: &'static str, form: FilterForm) -> Chrome {
    Chrome { base, active, form }
}

/// Runs a history read off the async threads.
async fn read<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, PageError> + Send + 'static,
) -> Result<T, PageError> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| PageError::Internal(format!("history read task failed: {e}")))?
}

fn chart(result: askama::Result<String>) -> Result<String, PageError> {
    result.map_err(|e| PageError::Internal(format!("cannot draw a chart: {e}")))
}

/// The window of `days` days ending today, unless the filter gives dates.
fn window(filter: &JobFilter, days: u32) -> (chrono::NaiveDate, chrono::NaiveDate) {
    let today = Utc::now().date_naive();
    let last = filter.to.unwrap_or(today);
    let first = filter.from.unwrap_or_else(|| {
        last.checked_sub_days(Days::new(u64::from(days.saturating_sub(1))))
            .unwrap_or(last)
    });
    (first, last)
}

async fn overview(
    State(store): State<Arc<Store>>,
    base: Base,
    Query(params): Query<PageParams>,
) -> PageResult {
    let b = base.0.clone();
    page(base, async move {
        let filter = params.filter()?;
        let days = params.days()?;
        let (first, last) = window(&filter, days);
        let f = filter.clone();
        let (overview, trend, severity, flaky, recent, repos) = read(&store, move |s| {
            Ok((
                s.overview(&f)?,
                s.trend(&f, first, last)?,
                s.severity_counts(&f)?,
                s.flakiest_tests(&f, Some(10))?,
                s.jobs(&f, 10, 0)?,
                s.repos()?,
            ))
        })
        .await?;
        Ok(render(&OverviewPage {
            stats: Stats::from(&overview),
            trend: chart(trend_chart(&trend, false))?,
            severity: chart(severity_chart(&severity))?,
            tests: (flaky.iter().enumerate())
                .map(|(i, t)| TestItem::new(&b, i + 1, t))
                .collect(),
            jobs: recent.iter().map(|j| JobItem::new(&b, j)).collect(),
            query: query_string(&filter, &[]),
            chrome: chrome(b, "overview", FilterForm::new(&filter, repos, None)),
        }))
    })
    .await
}

async fn trend(
    State(store): State<Arc<Store>>,
    base: Base,
    Query(params): Query<PageParams>,
) -> PageResult {
    let b = base.0.clone();
    page(base, async move {
        let filter = params.filter()?;
        let days = params.days()?;
        let (first, last) = window(&filter, days);
        let f = filter.clone();
        let (trend, repos) =
            read(&store, move |s| Ok((s.trend(&f, first, last)?, s.repos()?))).await?;
        let mut form = FilterForm::new(&filter, repos, Some(days));
        form.show_test = true;
        form.show_dates = true;
        Ok(render(&TrendPage {
            chart: chart(trend_chart(&trend, true))?,
            first: first.to_string(),
            last: last.to_string(),
            days: (trend.iter().rev())
                .filter(|d| d.jobs > 0)
                .map(|d| DayItem {
                    day: d.day.to_string(),
                    jobs: d.jobs,
                    rate: d
                        .mean_failure_rate
                        .map_or("-".into(), super::charts::percent),
                })
                .collect(),
            chrome: chrome(b, "trend", form),
        }))
    })
    .await
}

async fn tests(
    State(store): State<Arc<Store>>,
    base: Base,
    Query(params): Query<PageParams>,
) -> PageResult {
    let b = base.0.clone();
    page(base, async move {
        let filter = params.filter()?;
        let f = filter.clone();
        let (tests, repos) = read(&store, move |s| {
            Ok((s.flakiest_tests(&f, None)?, s.repos()?))
        })
        .await?;
        let mut form = FilterForm::new(&filter, repos, None);
        form.show_test = true;
        form.show_dates = true;
        Ok(render(&TestsPage {
            total: tests.len(),
            tests: (tests.iter().take(TESTS_SHOWN).enumerate())
                .map(|(i, t)| TestItem::new(&b, i + 1, t))
                .collect(),
            chrome: chrome(b, "tests", form),
        }))
    })
    .await
}

async fn status(
    State(store): State<Arc<Store>>,
    axum::Extension(dir): axum::Extension<QuarantineDir>,
    base: Base,
    Query(params): Query<PageParams>,
) -> PageResult {
    let b = base.0.clone();
    page(base, async move {
        let filter = params.filter()?;
        let repo = filter.repo.clone();
        let known = dir.0.is_some();
        let (tests, quarantine, repos) = read(&store, move |s| {
            let quarantine = Quarantine::load(dir.0.as_deref());
            let tests = s.test_histories(repo.as_deref(), quarantine.since())?;
            Ok((tests, quarantine, s.repos()?))
        })
        .await?;
        let mut form = FilterForm::new(&filter, repos, None);
        form.show_test = true;
        Ok(render(&StatusPage::new(
            chrome(b, "status", form),
            &tests,
            quarantine,
            known,
            filter.test.as_deref(),
        )))
    })
    .await
}

async fn severity(
    State(store): State<Arc<Store>>,
    base: Base,
    Query(params): Query<PageParams>,
) -> PageResult {
    let b = base.0.clone();
    page(base, async move {
        let mut filter = params.filter()?;
        filter.severity = None;
        let f = filter.clone();
        let (counts, repos) =
            read(&store, move |s| Ok((s.severity_counts(&f)?, s.repos()?))).await?;
        let total = counts.iter().map(|(_, n)| n).sum();
        let mut form = FilterForm::new(&filter, repos, None);
        form.show_dates = true;
        Ok(render(&SeverityPage {
            chart: chart(severity_chart(&counts))?,
            rows: counts
                .iter()
                .map(|(severity, jobs)| {
                    let selection = JobFilter {
                        severity: Some(*severity),
                        ..filter.clone()
                    };
                    SeverityItem {
                        name: severity.name(),
                        jobs: *jobs,
                        share: if total == 0 {
                            "0%".into()
                        } else {
                            super::charts::percent(*jobs as f64 / total as f64)
                        },
                        href: format!("{b}/jobs{}", query_string(&selection, &[])),
                    }
                })
                .collect(),
            total,
            chrome: chrome(b, "severity", form),
        }))
    })
    .await
}

async fn jobs(
    State(store): State<Arc<Store>>,
    base: Base,
    Query(params): Query<PageParams>,
) -> PageResult {
    let b = base.0.clone();
    page(base, async move {
        let filter = params.filter()?;
        let page_no = params.page()?;
        let offset = (page_no as usize - 1) * JOBS_PER_PAGE;
        let f = filter.clone();
        let (rows, total, repos) = read(&store, move |s| {
            Ok((
                s.jobs(&f, JOBS_PER_PAGE, offset)?,
                s.count_jobs(&f)?,
                s.repos()?,
            ))
        })
        .await?;
        let pages = (total as usize).div_ceil(JOBS_PER_PAGE).max(1) as u32;
        let link = |n: u32| {
            let extra = if n > 1 {
                vec![("page", n.to_string())]
            } else {
                vec![]
            };
            format!("{b}/jobs{}", query_string(&filter, &extra))
        };
        let mut form = FilterForm::new(&filter, repos, None);
        form.show_severity = true;
        form.show_dates = true;
        form.show_test = true;
        Ok(render(&JobsPage {
            jobs: rows.iter().map(|j| JobItem::new(&b, j)).collect(),
            total,
            page: page_no,
            pages,
            prev: (page_no > 1).then(|| link(page_no - 1)),
            next: (page_no < pages).then(|| link(page_no + 1)),
            chrome: chrome(b.clone(), "jobs", form),
        }))
    })
    .await
}

async fn job(State(store): State<Arc<Store>>, base: Base, Path(id): Path<String>) -> PageResult {
    let b = base.0.clone();
    page(base, async move {
        let not_found = || PageError::NotFound(format!("no job `{id}` in history"));
        let run_id = id.parse::<i64>().map(RunId).map_err(|_| not_found())?;
        let detail = read(&store, move |s| Ok(s.job(run_id)?)).await?;
        let detail = detail.ok_or_else(not_found)?;
        let form = FilterForm::new(&JobFilter::default(), vec![], None);
        Ok(render(&JobPage::new(chrome(b, "jobs", form), detail)))
    })
    .await
}

async fn not_found(base: Base, uri: http::Uri) -> Failed {
    Failed(
        base,
        PageError::NotFound(format!("no page at {}", uri.path())),
    )
}

/// Attaches the frame to an error.
async fn page(
    base: Base,
    body: impl Future<Output = Result<Html<String>, PageError>>,
) -> PageResult {
    body.await.map_err(|e| Failed(base, e))
}
