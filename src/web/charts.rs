//! Charts drawn on the server as inline SVG, so the dashboard works offline and needs no
//! script: the flakiness trend ([`TrendChart`]), the severity distribution
//! ([`SeverityChart`]) and the interval bar of a failure rate ([`IntervalBar`]). Geometry is
//! computed here; the SVG comes from escaped askama templates.

use askama::Template;

use crate::analysis::Severity;
use crate::history::TrendDay;

/// Height of the trend chart's coordinate system; CSS scales it to the screen, so a chart
/// meant for a wide card gets a wide coordinate system and its text keeps its size.
const TREND_H: f64 = 240.0;
const LEFT: f64 = 54.0;
const RIGHT: f64 = 36.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 34.0;

pub struct Rect {
    pub x: String,
    pub y: String,
    pub width: String,
    pub height: String,
    pub title: String,
}

pub struct Point {
    pub x: String,
    pub y: String,
    pub title: String,
}

pub struct Label {
    pub x: String,
    pub y: String,
    pub text: String,
}

/// Jobs per day as bars (right axis) and the mean failure rate as a line (left axis, 0-100 %).
#[derive(Template)]
#[template(path = "trend.svg")]
pub struct TrendChart {
    pub width: f64,
    pub height: f64,
    pub plot_left: String,
    pub plot_right: String,
    pub bars: Vec<Rect>,
    pub line: String,
    pub dots: Vec<Point>,
    pub rate_ticks: Vec<Label>,
    /// y of the horizontal grid line at each rate tick.
    pub grid: Vec<String>,
    pub job_ticks: Vec<Label>,
    pub day_labels: Vec<Label>,
    pub empty: bool,
}

fn coord(x: f64) -> String {
    format!("{x:.1}")
}

/// A rate as a percentage with one decimal, the way every page shows rates.
pub fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// The trend chart's width for a half-width card, where it sits on the overview.
pub const NARROW: f64 = 520.0;
/// Its width for a full-width card.
pub const WIDE: f64 = 960.0;

impl TrendChart {
    pub fn new(days: &[TrendDay]) -> TrendChart {
        TrendChart::with_width(days, NARROW)
    }

    pub fn with_width(days: &[TrendDay], width: f64) -> TrendChart {
        let trend_w = width;
        let plot_w = trend_w - LEFT - RIGHT;
        let plot_h = TREND_H - TOP - BOTTOM;
        let slot = plot_w / days.len().max(1) as f64;
        let max_jobs = days.iter().map(|d| d.jobs).max().unwrap_or(0).max(1);
        let y_of_rate = |rate: f64| TOP + plot_h * (1.0 - rate.clamp(0.0, 1.0));
        let mut bars = Vec::new();
        let mut dots = Vec::new();
        let mut line = Vec::new();
        for (i, day) in days.iter().enumerate() {
            let centre = LEFT + slot * (i as f64 + 0.5);
            let summary = match day.mean_failure_rate {
                Some(rate) => format!(
                    "{}: {} job{}, mean failure rate {}",
                    day.day,
                    day.jobs,
                    if day.jobs == 1 { "" } else { "s" },
                    percent(rate)
                ),
                None => format!("{}: {} jobs", day.day, day.jobs),
            };
            if day.jobs > 0 {
                let height = plot_h * day.jobs as f64 / max_jobs as f64;
                bars.push(Rect {
                    x: coord(centre - slot * 0.35),
                    y: coord(TOP + plot_h - height),
                    width: coord(slot * 0.7),
                    height: coord(height),
                    title: summary.clone(),
                });
            }
            if let Some(rate) = day.mean_failure_rate {
                let y = y_of_rate(rate);
                line.push(format!("{},{}", coord(centre), coord(y)));
                dots.push(Point {
                    x: coord(centre),
                    y: coord(y),
                    title: summary,
                });
            }
        }
        let rate_ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
            .map(|rate| Label {
                x: coord(LEFT - 6.0),
                y: coord(y_of_rate(rate) + 4.0),
                text: format!("{:.0}%", rate * 100.0),
            })
            .into();
        let grid = [0.0, 0.25, 0.5, 0.75, 1.0]
            .map(|rate| coord(y_of_rate(rate)))
            .into();
        let job_ticks = [0, max_jobs]
            .map(|jobs| Label {
                x: coord(trend_w - RIGHT + 6.0),
                y: coord(TOP + plot_h * (1.0 - jobs as f64 / max_jobs as f64) + 4.0),
                text: jobs.to_string(),
            })
            .into();
        let every = days.len().div_ceil((width / 110.0) as usize).max(1);
        let day_labels = days
            .iter()
            .enumerate()
            .filter(|(i, _)| i % every == 0)
            .map(|(i, day)| Label {
                x: coord(LEFT + slot * (i as f64 + 0.5)),
                y: coord(TREND_H - 12.0),
                text: day.day.format("%b %d").to_string(),
            })
            .collect();
        TrendChart {
            width: trend_w,
            height: TREND_H,
            plot_left: coord(LEFT),
            plot_right: coord(trend_w - RIGHT),
            bars,
            line: line.join(" "),
            dots,
            rate_ticks,
            grid,
            job_ticks,
            day_labels,
            empty: days.iter().all(|d| d.jobs == 0),
        }
    }
}

/// One horizontal bar per severity band.
#[derive(Template)]
#[template(path = "severity.svg")]
pub struct SeverityChart {
    pub width: f64,
    pub height: f64,
    pub label_width: f64,
    pub rows: Vec<SeverityRow>,
}

pub struct SeverityRow {
    pub name: &'static str,
    pub count: u64,
    pub share: String,
    pub y: String,
    pub text_y: String,
    pub width: String,
    pub count_x: String,
}

impl SeverityChart {
    pub fn new(counts: &[(Severity, u64)]) -> SeverityChart {
        const W: f64 = 480.0;
        const ROW: f64 = 34.0;
        const LABEL: f64 = 84.0;
        const COUNT: f64 = 100.0;
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
        let rows = counts
            .iter()
            .enumerate()
            .map(|(i, (severity, count))| {
                let width = (W - LABEL - COUNT) * *count as f64 / max as f64;
                let y = 6.0 + ROW * i as f64;
                SeverityRow {
                    name: severity.name(),
                    count: *count,
                    share: if total == 0 {
                        "0%".into()
                    } else {
                        percent(*count as f64 / total as f64)
                    },
                    y: coord(y),
                    text_y: coord(y + 17.0),
                    width: coord(width.max(if *count > 0 { 2.0 } else { 0.0 })),
                    count_x: coord(LABEL + width + 6.0),
                }
            })
            .collect::<Vec<_>>();
        SeverityChart {
            width: W,
            height: 12.0 + ROW * rows.len() as f64,
            label_width: LABEL,
            rows,
        }
    }
}

/// A failure rate on a 0-100 % track: the interval as a bar, the rate as a tick. Fields
/// are SVG coordinates (percent of the track).
pub struct IntervalBar {
    pub low: String,
    pub width: String,
    pub tick: String,
    pub text: String,
}

impl IntervalBar {
    pub fn new(rate: f64, low: f64, high: f64) -> IntervalBar {
        let at = |x: f64| x.clamp(0.0, 1.0) * 100.0;
        IntervalBar {
            low: format!("{:.2}", at(low)),
            width: format!("{:.2}", (at(high) - at(low)).max(0.8)),
            tick: format!("{:.2}", at(rate).clamp(0.75, 99.25) - 0.75),
            text: format!(
                "{} (95% CI {} - {})",
                percent(rate),
                percent(low),
                percent(high)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(n: u32, jobs: u64, rate: Option<f64>) -> TrendDay {
        TrendDay {
            day: NaiveDate::from_ymd_opt(2026, 1, n).expect("a real date"),
            jobs,
            mean_failure_rate: rate,
        }
    }

    #[test]
    fn the_busiest_day_has_the_full_height_bar() {
        let chart = TrendChart::new(&[day(1, 2, Some(0.5)), day(2, 0, None), day(3, 4, Some(0.0))]);
        assert_eq!(chart.bars.len(), 2, "no bar for a day without jobs");
        let plot_h = TREND_H - TOP - BOTTOM;
        assert_eq!(chart.bars[1].height, coord(plot_h));
        assert_eq!(chart.bars[0].height, coord(plot_h / 2.0));
        assert_eq!(chart.dots.len(), 2);
        // A 0 % day sits on the axis; a 50 % day halfway up.
        assert_eq!(chart.dots[1].y, coord(TOP + plot_h));
        assert_eq!(chart.dots[0].y, coord(TOP + plot_h / 2.0));
        assert!(!chart.empty);
        let svg = chart.render().expect("the chart renders");
        assert!(svg.contains("2026-01-01: 2 jobs, mean failure rate 50.0%"));
    }

    #[test]
    fn an_empty_window_says_so() {
        let chart = TrendChart::new(&[day(1, 0, None)]);
        assert!(chart.empty);
        assert!(chart.render().expect("renders").contains("no jobs"));
    }

    #[test]
    fn severity_shares_add_up() {
        let chart = SeverityChart::new(&[(Severity::None, 3), (Severity::High, 1)]);
        assert_eq!(chart.rows[0].share, "75.0%");
        assert_eq!(chart.rows[1].share, "25.0%");
    }
}
