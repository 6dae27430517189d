//! The plots, as SVG documents (strings): the histogram of a batch's losses over the baseline's,
//! the timeline of batches, and each property's batch against its reference. The page shows
//! them inline, exports them, and the HTML report embeds them; they depend on nothing but the
//! core's numbers.

use std::fmt::Write as _;

use driftglass_core::properties::PropertyTest;
use driftglass_core::stats::LossHistogram;

/// The histogram of a batch's losses over the baseline's as an SVG document: baseline bars in
/// gray, the batch's in blue, the flag threshold as a dashed red line, loss ticks below.
pub fn histogram_svg(h: &LossHistogram) -> String {
    const W: f64 = 640.0;
    const H: f64 = 200.0;
    const LEFT: f64 = 10.0;
    const BOTTOM: f64 = 30.0;
    let plot_w = W - 2.0 * LEFT;
    let plot_h = H - BOTTOM - 24.0;
    let (low, high) = (h.edges[0], h.edges[h.edges.len() - 1]);
    let x_of = |loss: f64| LEFT + plot_w * ((loss - low) / (high - low)).clamp(0.0, 1.0);
    let top = h
        .baseline
        .iter()
        .chain(&h.batch)
        .cloned()
        .fold(f64::MIN_POSITIVE, f64::max);
    let bin_w = plot_w / h.baseline.len() as f64;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="Histogram of this batch's losses over the baseline's" font-family="sans-serif" font-size="11">"#
    );
    svg.push_str(r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    for (class, shares, fill) in [
        (
            "baseline",
            &h.baseline,
            r##"fill="#9aa4af" fill-opacity="0.6""##,
        ),
        ("batch", &h.batch, r##"fill="#1f6feb" fill-opacity="0.55""##),
    ] {
        for (i, share) in shares.iter().enumerate() {
            let bar_h = plot_h * share / top;
            let _ = write!(
                svg,
                r#"<rect class="{class}" x="{:.2}" y="{:.2}" width="{:.2}" height="{bar_h:.2}" {fill}/>"#,
                LEFT + i as f64 * bin_w,
                H - BOTTOM - bar_h,
                bin_w,
            );
        }
    }
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{0}" x2="{1}" y2="{0}" stroke="#5b6570"/>"##,
        H - BOTTOM,
        W - LEFT
    );
    for k in 0..=4 {
        let loss = low + (high - low) * k as f64 / 4.0;
        let anchor = match k {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            r##"<text x="{:.2}" y="{:.2}" text-anchor="{anchor}" fill="#5b6570">{loss:.3}</text>"##,
            x_of(loss),
            H - BOTTOM + 14.0
        );
    }
    if let Some(threshold) = h.flag_threshold.filter(|t| *t >= low && *t <= high) {
        let x = x_of(threshold);
        let _ = write!(
            svg,
            r##"<line class="threshold" x1="{x:.2}" y1="18" x2="{x:.2}" y2="{:.2}" stroke="#c62828" stroke-dasharray="4 3"/><text x="{:.2}" y="14" text-anchor="end" fill="#c62828">flag threshold {threshold:.3}</text>"##,
            H - BOTTOM,
            x.max(120.0)
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{LEFT}" y="{:.2}" fill="#5b6570">reconstruction loss (BCE per pixel) · gray: baseline · blue: this batch</text></svg>"##,
        H - 2.0
    );
    svg
}

/// One finished batch on the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelinePoint {
    /// What the batch was ("dropped", "Letters (notMNIST-style)", ...).
    pub label: String,
    /// Scored images.
    pub images: usize,
    /// Loss ratio to the baseline.
    pub ratio: f64,
    /// Combined p-value of the batch tests (absent for tiny batches).
    pub p_value: Option<f64>,
    /// The verdict's words.
    pub verdict: String,
}

/// Successive batches as an SVG document: the loss ratio (log scale) with the alert threshold
/// on top, the combined p-value (−log10) with the significance level below; red points are
/// batches with drift, amber ones with a small shift, green ones with no evidence of drift.
pub fn timeline_svg(points: &[TimelinePoint], alert_ratio: f64, alpha: f64) -> String {
    const W: f64 = 640.0;
    const PANEL: f64 = 110.0;
    const LEFT: f64 = 56.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 20.0;
    const GAP: f64 = 34.0;
    let h = TOP + 2.0 * PANEL + GAP + 30.0;
    let n = points.len().max(1);
    let x_of = |i: usize| {
        if n == 1 {
            LEFT + (W - LEFT - RIGHT) / 2.0
        } else {
            LEFT + (W - LEFT - RIGHT) * i as f64 / (n - 1) as f64
        }
    };
    // Top panel: log10 of the ratio, covering the points and the threshold.
    let logs: Vec<f64> = points.iter().map(|p| p.ratio.max(1e-3).log10()).collect();
    let threshold = alert_ratio.max(1e-3).log10();
    let top_max = logs.iter().cloned().fold(threshold, f64::max).max(0.05) * 1.1;
    let top_min = logs.iter().cloned().fold(0.0f64, f64::min).min(-0.05) * 1.1;
    let y_top = |v: f64| TOP + PANEL * (top_max - v) / (top_max - top_min);
    // Bottom panel: −log10 p, capped at 12.
    let neg_logs: Vec<Option<f64>> = points
        .iter()
        .map(|p| p.p_value.map(|v| (-v.max(1e-12).log10()).min(12.0)))
        .collect();
    let level = -alpha.max(1e-12).log10();
    let bottom_max = neg_logs.iter().flatten().cloned().fold(level, f64::max) * 1.1;
    let bottom_top = TOP + PANEL + GAP;
    let y_bottom = |v: f64| bottom_top + PANEL * (bottom_max - v) / bottom_max;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" width="{W}" height="{h}" role="img" aria-label="Loss ratio and p-value of successive batches" font-family="sans-serif" font-size="11">"#
    );
    svg.push_str(r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = write!(
        svg,
        r##"<text x="4" y="12" fill="#5b6570">loss ratio (log scale)</text><text x="4" y="{:.1}" fill="#5b6570">batch p-value (−log10)</text>"##,
        bottom_top - 8.0
    );
    for (y, text) in [
        (
            y_top(threshold),
            format!("alert {}", format_ratio(alert_ratio)),
        ),
        (y_bottom(level), format!("α = {alpha}")),
    ] {
        let _ = write!(
            svg,
            // Labelled at the right end, above the line: the axis labels on the left stay clear.
            r##"<line class="threshold" x1="{LEFT}" y1="{y:.2}" x2="{0:.2}" y2="{y:.2}" stroke="#c62828" stroke-dasharray="4 3"/><text x="{0:.2}" y="{1:.2}" text-anchor="end" fill="#c62828">{text}</text>"##,
            W - RIGHT,
            y - 4.0
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{0:.2}" x2="{1:.2}" y2="{0:.2}" stroke="#9aa4af"/><text x="{2:.2}" y="{3:.2}" text-anchor="end" fill="#5b6570">+0 %</text>"##,
        y_top(0.0),
        W - RIGHT,
        LEFT - 4.0,
        y_top(0.0) + 4.0
    );
    let colour = |p: &TimelinePoint| match p.verdict.as_str() {
        "drift" => "#c62828",
        "no evidence of drift" => "#2e7d32",
        "small shift" => "#8a4b00",
        _ => "#9aa4af",
    };
    let polyline = |coords: Vec<(f64, f64)>| {
        let list: Vec<String> = coords
            .iter()
            .map(|(x, y)| format!("{x:.2},{y:.2}"))
            .collect();
        format!(
            r##"<polyline points="{}" fill="none" stroke="#1f6feb" stroke-width="1.5"/>"##,
            list.join(" ")
        )
    };
    svg.push_str(&polyline(
        logs.iter()
            .enumerate()
            .map(|(i, v)| (x_of(i), y_top(*v)))
            .collect(),
    ));
    svg.push_str(&polyline(
        neg_logs
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (x_of(i), y_bottom(v))))
            .collect(),
    ));
    for (i, point) in points.iter().enumerate() {
        let x = x_of(i);
        let _ = write!(
            svg,
            r##"<circle class="point" cx="{x:.2}" cy="{:.2}" r="4" fill="{}"><title>{}: {} images, ratio {}, {}</title></circle>"##,
            y_top(logs[i]),
            colour(point),
            xml_escape(&point.label),
            point.images,
            format_ratio(point.ratio),
            point.verdict
        );
        if let Some(v) = neg_logs[i] {
            let _ = write!(
                svg,
                r##"<circle cx="{x:.2}" cy="{:.2}" r="3" fill="{}"/>"##,
                y_bottom(v),
                colour(point)
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{x:.2}" y="{:.2}" text-anchor="middle" fill="#5b6570">{}</text>"##,
            h - 8.0,
            i + 1
        );
    }
    svg.push_str("</svg>");
    svg
}

pub fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A p-value for people: "0.042", "3.1e-5", "8.5e-217"; "< 1e-300" below what a float holds
/// (a tail computed as 0 is smaller than that, not zero).
pub fn format_p(p: f64) -> String {
    if p < 1e-300 {
        "< 1e-300".into()
    } else if p < 0.001 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

/// "+44.2 %" for a ratio of 1.442.
pub fn format_ratio(ratio: f64) -> String {
    format!("{:+.1} %", (ratio - 1.0) * 100.0)
}

/// A property's batch against its reference as a small SVG: two box plots on one scale
/// (whiskers 5 to 95 %, box 25 to 75 %, a line at the median), the reference in gray above the
/// batch in blue; for the file format, two bars of the format's share.
pub fn property_plot_svg(test: &PropertyTest) -> String {
    const W: f64 = 300.0;
    const H: f64 = 58.0;
    const LEFT: f64 = 64.0;
    const RIGHT: f64 = 10.0;
    let label = xml_escape(test.property.label());
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{label}: this batch against the reference" font-family="sans-serif" font-size="10">"#
    );
    svg.push_str(r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let rows = [
        (
            "reference",
            &test.reference_quantiles,
            "#9aa4af",
            test.reference_mean,
            6.0,
        ),
        (
            "batch",
            &test.batch_quantiles,
            "#1f6feb",
            test.batch_mean,
            26.0,
        ),
    ];
    let plot = W - LEFT - RIGHT;
    if test.batch_quantiles.len() == 5 && test.reference_quantiles.len() == 5 {
        let all = test.batch_quantiles.iter().chain(&test.reference_quantiles);
        let (low, high) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
        let span = (high - low).max(1e-12);
        let x = |v: f64| LEFT + plot * ((v - low) / span).clamp(0.0, 1.0);
        for (name, q, colour, _, y) in rows {
            let _ = write!(
                svg,
                r##"<text x="{}" y="{:.1}" text-anchor="end" fill="#5b6570">{name}</text><g class="{name}" stroke="{colour}" fill="{colour}" fill-opacity="0.35"><line x1="{:.2}" y1="{:.1}" x2="{:.2}" y2="{:.1}"/><rect x="{:.2}" y="{y:.1}" width="{:.2}" height="14"/><line x1="{:.2}" y1="{y:.1}" x2="{:.2}" y2="{:.1}" stroke-width="2"/></g>"##,
                LEFT - 6.0,
                y + 10.5,
                x(q[0]),
                y + 7.0,
                x(q[4]),
                y + 7.0,
                x(q[1]),
                (x(q[3]) - x(q[1])).max(1.0),
                x(q[2]),
                x(q[2]),
                y + 14.0,
            );
        }
        let _ = write!(
            svg,
            r##"<text x="{LEFT}" y="54" fill="#5b6570">{}</text><text x="{}" y="54" text-anchor="end" fill="#5b6570">{}</text>"##,
            compact(low),
            W - RIGHT,
            compact(high)
        );
    } else {
        // The format: the share of the format that moved most, in each.
        for (name, _, colour, share, y) in rows {
            let _ = write!(
                svg,
                r##"<text x="{}" y="{:.1}" text-anchor="end" fill="#5b6570">{name}</text><rect class="{name}" x="{LEFT}" y="{y:.1}" width="{:.2}" height="14" fill="{colour}" fill-opacity="0.55"/><text x="{:.2}" y="{:.1}" fill="#5b6570">{:.0} %</text>"##,
                LEFT - 6.0,
                y + 10.5,
                plot * share.clamp(0.0, 1.0) * 0.85,
                LEFT + plot * share.clamp(0.0, 1.0) * 0.85 + 4.0,
                y + 10.5,
                share * 100.0
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A plot's axis value: three significant digits, an exponent only for very large or small.
fn compact(value: f64) -> String {
    if value == 0.0 || (1e-3..1e5).contains(&value.abs()) {
        let digits = (2 - value.abs().log10().floor() as i32).clamp(0, 4) as usize;
        format!("{value:.digits$}")
    } else {
        format!("{value:.1e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_plots_draw_batch_against_reference() {
        use driftglass_core::properties::Property;
        let test = PropertyTest {
            property: Property::Brightness,
            effect: 1.0,
            shift: 3.0,
            p_value: 1e-20,
            batch_mean: 0.3,
            reference_mean: 0.5,
            batch_quantiles: vec![0.2, 0.25, 0.3, 0.35, 0.4],
            reference_quantiles: vec![0.3, 0.4, 0.5, 0.6, 0.7],
            sentence: "darker".into(),
        };
        let svg = property_plot_svg(&test);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"<g class="reference""#) && svg.contains(r#"<g class="batch""#));
        // The scale runs from the smallest quantile to the largest: 0.200 to 0.700.
        assert!(svg.contains(">0.200<") && svg.contains(">0.700<"), "{svg}");
        // The batch's median (0.3) sits a fifth of the way along the 226-pixel plot.
        assert!(svg.contains(r#"x1="109.20""#), "{svg}");
        let format = PropertyTest {
            property: Property::Format,
            batch_quantiles: Vec::new(),
            reference_quantiles: Vec::new(),
            batch_mean: 1.0,
            reference_mean: 0.0,
            ..test
        };
        let svg = property_plot_svg(&format);
        assert!(svg.contains(">100 %<") && svg.contains(">0 %<"), "{svg}");
    }

    #[test]
    fn histogram_svg_draws_every_bin_and_the_threshold() {
        let h = LossHistogram {
            edges: vec![0.0, 0.1, 0.2, 0.3],
            baseline: vec![0.5, 0.5, 0.0],
            batch: vec![0.0, 0.25, 0.75],
            batch_counts: vec![0, 1, 3],
            flag_threshold: Some(0.15),
        };
        let svg = histogram_svg(&h);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches(r#"class="baseline""#).count(), 3);
        assert_eq!(svg.matches(r#"class="batch""#).count(), 3);
        assert!(svg.contains("flag threshold 0.150"));
        // The tallest bar (batch share 0.75) fills the plot height: 200 - 30 - 24.
        assert!(svg.contains(r#"height="146.00""#), "{svg}");
    }

    #[test]
    fn timeline_svg_has_a_point_per_batch_and_both_thresholds() {
        let point = |label: &str, ratio: f64, p: Option<f64>, verdict: &str| TimelinePoint {
            label: label.into(),
            images: 50,
            ratio,
            p_value: p,
            verdict: verdict.into(),
        };
        let points = [
            point("clean <digits>", 1.01, Some(0.4), "no evidence of drift"),
            point("letters", 4.05, Some(1e-20), "drift"),
            point("three", 1.2, None, "too few images to tell"),
        ];
        let svg = timeline_svg(&points, 1.1, 0.01);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches(r#"class="point""#).count(), 3);
        assert_eq!(svg.matches(r#"class="threshold""#).count(), 2);
        assert!(svg.contains("alert +10.0 %") && svg.contains("α = 0.01"));
        assert!(svg.contains("clean &lt;digits&gt;"), "labels are escaped");
        assert!(svg.contains("#c62828") && svg.contains("#2e7d32"));
        // A single batch still draws.
        assert!(timeline_svg(&points[..1], 1.1, 0.01).contains(r#"class="point""#));
    }
}
