// SPDX-License-Identifier: GPL-2.0

//! The benchmark's plots, drawn with `plotters` (SVG backend): one panel per metric, cost
//! against buffer size on log-log axes, one line per contender through the medians, and a
//! vertical bar from the smallest to the largest sample at every point.

use anyhow::{Result, anyhow};
use plotters::prelude::*;

/// One point of a line: the buffer size, and the median, smallest and largest of its samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// One contender's line in a panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    /// The line's colour, an index into the palette: the same contender has the same colour in
    /// every panel, whichever contenders a panel lacks.
    pub color: usize,
    pub points: Vec<Point>,
}

/// One metric's panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// The panel's caption (the metric and what one operation is).
    pub title: String,
    /// The y axis's title, with its unit.
    pub y_label: String,
    pub series: Vec<Series>,
}

/// Line colours, by contender order (mydev first, in red).
const COLORS: [RGBColor; 8] = [
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// The x axis's title.
pub const X_LABEL: &str = "buffer size (bytes, log scale)";

/// Panel size in pixels, and panels per row.
const PANEL: (u32, u32) = (560, 420);
const COLUMNS: usize = 2;

/// A byte count as the tables write it: 4K, 64M, 1G.
pub fn human(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{}G", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{}M", n >> 20),
        n if n >= 1024 && n % 1024 == 0 => format!("{}K", n >> 10),
        n => n.to_string(),
    }
}

/// A y tick label: plain below 10,000, else in powers of ten (1e5).
fn y_tick(v: f64) -> String {
    if v >= 1e4 {
        format!("{:.0e}", v)
    } else if v >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// The smallest and largest values of every point (error bars included) of a panel.
fn y_range(panel: &Panel) -> Option<(f64, f64)> {
    let values = panel
        .series
        .iter()
        .flat_map(|s| &s.points)
        .flat_map(|p| [p.min, p.median, p.max])
        .filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    (hi > 0.0).then_some((lo, hi))
}

/// Draws `panels` on one SVG page under `title`, `COLUMNS` panels per row.
pub fn svg(title: &str, panels: &[Panel]) -> Result<String> {
    let rows = panels.len().div_ceil(COLUMNS).max(1);
    let size = (PANEL.0 * COLUMNS as u32, PANEL.1 * rows as u32 + 40);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
        let root = root
            .titled(title, ("sans-serif", 20))
            .map_err(|e| anyhow!("{e:?}"))?;
        let areas = root.split_evenly((rows, COLUMNS));
        for (panel, area) in panels.iter().zip(areas.iter()) {
            draw_panel(panel, area).map_err(|e| anyhow!("panel {}: {e}", panel.title))?;
        }
        root.present().map_err(|e| anyhow!("{e:?}"))?;
    }
    Ok(out)
}

fn draw_panel<DB: DrawingBackend>(
    panel: &Panel,
    area: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let xs = panel.series.iter().flat_map(|s| &s.points).map(|p| p.x);
    let (x_lo, x_hi) = xs.fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    if !(x_lo.is_finite() && x_hi > 0.0) {
        return Err(anyhow!("no points"));
    }
    let (y_lo, y_hi) = y_range(panel).ok_or_else(|| anyhow!("no positive values"))?;
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e:?}");
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 15))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(
            (x_lo / 1.6..x_hi * 1.6).log_scale().base(4.0),
            (y_lo / 1.6..y_hi * 1.6).log_scale(),
        )
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(X_LABEL)
        .y_desc(panel.y_label.as_str())
        .x_label_formatter(&|x| human(x.round() as u64))
        .y_label_formatter(&|y| y_tick(*y))
        .axis_desc_style(("sans-serif", 13))
        .label_style(("sans-serif", 11))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(e)?;
    for s in &panel.series {
        let color = COLORS[s.color % COLORS.len()];
        let pts: Vec<Point> = s
            .points
            .iter()
            .copied()
            .filter(|p| p.median > 0.0 && p.median.is_finite())
            .collect();
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|p| (p.x, p.median)),
                color.stroke_width(2),
            ))
            .map_err(e)?
            .label(s.name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                pts.iter()
                    .map(|p| Circle::new((p.x, p.median), 3, color.filled())),
            )
            .map_err(e)?;
        chart
            .draw_series(pts.iter().filter(|p| p.min > 0.0).map(|p| {
                ErrorBar::new_vertical(p.x, p.min, p.median, p.max, color.stroke_width(1), 8)
            }))
            .map_err(e)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 11))
        .draw()
        .map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, color: usize, scale: f64) -> Series {
        Series {
            name: name.into(),
            color,
            points: [4096.0, 16384.0, 65536.0, 262144.0]
                .iter()
                .map(|&x| Point {
                    x,
                    median: x * scale,
                    min: x * scale * 0.9,
                    max: x * scale * 1.2,
                })
                .collect(),
        }
    }

    fn panels() -> Vec<Panel> {
        ["mmap_touch_all", "warm_copy", "read_1m"]
            .iter()
            .map(|m| Panel {
                title: format!("{m}: one operation"),
                y_label: "time per operation (us, log scale)".into(),
                series: vec![series("mydev", 0, 1.0), series("memfd-thp", 3, 0.01)],
            })
            .collect()
    }

    /// The `x` attribute and the text of every `<text>` element.
    fn texts(svg: &str) -> Vec<(f64, String)> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                let x = t.split("x=\"").nth(1)?.split('"').next()?.parse().ok()?;
                let body = t.split('>').nth(1)?.split('<').next()?.trim().to_string();
                Some((x, body))
            })
            .collect()
    }

    #[test]
    fn one_panel_per_metric_with_titles_axes_and_a_legend() {
        let s = svg("page title", &panels()).unwrap();
        assert!(s.starts_with("<svg"), "{}", &s[..80]);
        let t = texts(&s);
        let count = |want: &str| t.iter().filter(|(_, b)| b == want).count();
        assert_eq!(count("page title"), 1);
        for m in ["mmap_touch_all", "warm_copy", "read_1m"] {
            assert_eq!(count(&format!("{m}: one operation")), 1, "caption of {m}");
        }
        // Every panel titles both axes and names both contenders in its legend.
        assert_eq!(count(X_LABEL), 3);
        assert_eq!(count("time per operation (us, log scale)"), 3);
        assert_eq!(count("mydev"), 3);
        assert_eq!(count("memfd-thp"), 3);
    }

    #[test]
    fn the_size_axis_is_logarithmic() {
        let s = svg("t", &panels()[..1]).unwrap();
        let t = texts(&s);
        let x = |label: &str| {
            t.iter()
                .find(|(_, b)| b == label)
                .map(|(x, _)| *x)
                .unwrap_or_else(|| panic!("no tick {label} in {t:?}"))
        };
        // Powers of 4 are evenly spaced on a log axis (on a linear one, 64K would be 4 times
        // as far from 16K as 16K is from 4K).
        let (a, b, c) = (x("4K"), x("16K"), x("64K"));
        assert!(a < b && b < c, "{a} {b} {c}");
        assert!(((c - b) - (b - a)).abs() <= 2.0, "{a} {b} {c}");
    }

    /// `(x1, y1, x2, y2)` of every `<line>` drawn in `color`.
    fn lines(svg: &str, color: &str) -> Vec<(i32, i32, i32, i32)> {
        svg.split("<line")
            .skip(1)
            .filter(|l| l.contains(&format!("stroke=\"{color}\"")))
            .filter_map(|l| {
                let attr = |a: &str| -> Option<i32> {
                    l.split(&format!(" {a}=\""))
                        .nth(1)?
                        .split('"')
                        .next()?
                        .parse()
                        .ok()
                };
                Some((attr("x1")?, attr("y1")?, attr("x2")?, attr("y2")?))
            })
            .collect()
    }

    #[test]
    fn error_bars_span_the_samples_on_a_log_axis() {
        let panel = Panel {
            title: "p".into(),
            y_label: "y".into(),
            series: vec![Series {
                name: "a".into(),
                color: 0,
                points: vec![
                    Point {
                        x: 4096.0,
                        median: 10.0,
                        min: 5.0,
                        max: 20.0,
                    },
                    Point {
                        x: 16384.0,
                        median: 10.0,
                        min: 10.0,
                        max: 10.0,
                    },
                ],
            }],
        };
        let s = svg("t", &[panel]).unwrap();
        // The first colour is mydev's red; only the series draws lines in it.
        let vertical: Vec<_> = lines(&s, "#D62728")
            .into_iter()
            .filter(|(x1, y1, x2, y2)| x1 == x2 && y1 != y2)
            .collect();
        assert_eq!(vertical.len(), 1, "one bar with a spread: {vertical:?}");
        let (x, y_min, _, y_max) = vertical[0];
        let median = s
            .split("<circle")
            .nth(1)
            .and_then(|c| {
                let attr = |a: &str| -> Option<i32> {
                    c.split(&format!(" {a}=\""))
                        .nth(1)?
                        .split('"')
                        .next()?
                        .parse()
                        .ok()
                };
                Some((attr("cx")?, attr("cy")?))
            })
            .unwrap();
        assert_eq!(median.0, x, "the bar stands at its point");
        // 5, 10, 20: on a log axis the median is halfway between the ends, in pixels.
        assert!(
            y_min > median.1 && median.1 > y_max,
            "{y_min} {median:?} {y_max}"
        );
        assert!(
            ((y_min - median.1) - (median.1 - y_max)).abs() <= 1,
            "{y_min} {median:?} {y_max}"
        );
    }

    #[test]
    fn ticks_and_sizes_read_as_in_the_tables() {
        assert_eq!(human(4096), "4K");
        assert_eq!(human(64 << 20), "64M");
        assert_eq!(human(1 << 30), "1G");
        assert_eq!(human(100), "100");
        assert_eq!(y_tick(250.0), "250");
        assert_eq!(y_tick(2.5e6), "2e6");
    }

    #[test]
    fn a_panel_without_points_is_an_error() {
        let empty = Panel {
            title: "empty".into(),
            y_label: "y".into(),
            series: vec![],
        };
        assert!(svg("t", &[empty]).is_err());
    }
}
