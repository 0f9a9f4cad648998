//! `--svg FILE`: the pause-time distribution and the heap size over time of one run of
//! `churn` or `mixed`, drawn with plotters.

use plotters::prelude::*;

use crate::native::Sample;

const GENERATION_COLORS: [RGBColor; 3] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(214, 39, 40),
];

/// Pauses per bin, for each generation, over `bins` equal bins from 0 to `top` µs
/// (longer pauses land in the last bin), counted from an HDR histogram per generation
/// ([`pause_histogram`](crate::jobs::pause_histogram), so a pause within 0.1% of a bin's
/// edge may land on either side); a bin is `top / bins` rounded up to whole nanoseconds.
pub fn pause_histogram(samples: &[Sample], bins: usize, top: f64) -> [Vec<u32>; 3] {
    let bins = bins.max(1);
    let step_ns = bin_width_ns(top, bins);
    let mut counts = [vec![0u32; bins], vec![0u32; bins], vec![0u32; bins]];
    for (generation, counts) in counts.iter_mut().enumerate() {
        let h = crate::jobs::pause_histogram(
            samples
                .iter()
                .filter(|s| s.generation.min(2) == generation)
                .map(|s| s.pause_us),
        );
        if h.is_empty() {
            continue;
        }
        // Each recorded bucket of the histogram goes to the bin of its middle value.
        for v in h.iter_recorded() {
            let bin = h.median_equivalent(v.value_iterated_to()) / step_ns;
            counts[(bin as usize).min(bins - 1)] += v.count_at_value() as u32;
        }
    }
    counts
}

/// The width in whole nanoseconds of one of `bins` bins spanning `top` µs.
fn bin_width_ns(top: f64, bins: usize) -> u64 {
    ((top * 1e3 / bins as f64).ceil() as u64).max(1)
}

/// Draws `samples` to an SVG file at `path`; `title` names the run.
pub fn draw(path: &std::path::Path, title: &str, samples: &[Sample]) -> Result<(), String> {
    if samples.is_empty() {
        return Err("no collection ran, nothing to draw".into());
    }
    let err = |e: &dyn std::fmt::Display| format!("drawing {}: {e}", path.display());
    let root = SVGBackend::new(path, (1100, 1000)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root
        .titled(title, ("sans-serif", 20))
        .map_err(|e| err(&e))?;
    let panels = root.split_evenly((3, 1));

    // The distribution: most pauses are short young collections, so the axis stops at
    // the 99.9th percentile and the last bin holds everything longer.
    let all = crate::jobs::pause_histogram(samples.iter().map(|s| s.pause_us));
    let longest = all.max() as f64 / 1e3;
    let cut = all.value_at_quantile(0.999) as f64 / 1e3;
    let bins = 60;
    // Whole nanoseconds per bin, so the bars line up with the histogram's steps.
    let x_top = bin_width_ns((cut * 1.1).max(1.0), bins) as f64 * bins as f64 / 1e3;
    let hist = pause_histogram(samples, bins, x_top);
    let y_top = hist
        .iter()
        .flat_map(|h| h.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut chart = ChartBuilder::on(&panels[0])
        .margin(12)
        .caption(
            format!(
                "pause distribution: {} collections, longest {longest:.0} µs",
                samples.len()
            ),
            ("sans-serif", 16),
        )
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_top, 0u32..(y_top + y_top / 10 + 1))
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("pause (µs); the last bin also holds the longer ones")
        .y_desc("collections")
        .draw()
        .map_err(|e| err(&e))?;
    let width = x_top / bins as f64;
    for (generation, counts) in hist.iter().enumerate() {
        let color = GENERATION_COLORS[generation];
        let bars = counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(move |(i, c)| {
                let x0 = i as f64 * width;
                Rectangle::new([(x0, 0), (x0 + width * 0.9, *c)], color.mix(0.7).filled())
            });
        chart
            .draw_series(bars)
            .map_err(|e| err(&e))?
            .label(format!(
                "generation {generation} ({})",
                counts.iter().sum::<u32>()
            ))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;

    // Every pause where it happened: young pauses must stay flat over the run.
    let t_end = samples
        .iter()
        .map(|s| s.at_ms)
        .fold(0.0, f64::max)
        .max(1e-3)
        * 1.02;
    let mut chart = ChartBuilder::on(&panels[1])
        .margin(12)
        .caption("each collection's pause over the run", ("sans-serif", 16))
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_end, 0.0..longest * 1.1)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("time (ms)")
        .y_desc("pause (µs)")
        .draw()
        .map_err(|e| err(&e))?;
    for (generation, &color) in GENERATION_COLORS.iter().enumerate() {
        chart
            .draw_series(
                samples
                    .iter()
                    .filter(|s| s.generation == generation)
                    .map(|s| Circle::new((s.at_ms, s.pause_us), 2, color.filled())),
            )
            .map_err(|e| err(&e))?
            .label(format!("generation {generation}"))
            .legend(move |(x, y)| Circle::new((x + 5, y), 3, color.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;

    // The heap over time: objects alive after each collection (left axis), and the
    // garbage that was waiting for it (right axis).
    let heap_top = samples
        .iter()
        .map(|s| s.live_objects)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let garbage_top = samples
        .iter()
        .map(|s| s.outstanding_garbage)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut chart = ChartBuilder::on(&panels[2])
        .margin(12)
        .caption(
            "heap size over time (at every collection)",
            ("sans-serif", 16),
        )
        .x_label_area_size(36)
        .y_label_area_size(80)
        .right_y_label_area_size(70)
        .build_cartesian_2d(0.0..t_end, 0.0..heap_top * 1.15)
        .map_err(|e| err(&e))?
        .set_secondary_coord(0.0..t_end, 0.0..garbage_top * 1.15);
    chart
        .configure_mesh()
        .x_desc("time (ms)")
        .y_desc("objects alive")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(|e| err(&e))?;
    chart
        .configure_secondary_axes()
        .y_desc("garbage waiting")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(|e| err(&e))?;
    chart
        .draw_series(LineSeries::new(
            samples.iter().map(|s| (s.at_ms, s.live_objects as f64)),
            GENERATION_COLORS[0].stroke_width(2),
        ))
        .map_err(|e| err(&e))?
        .label("objects alive after the collection (left)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], GENERATION_COLORS[0]));
    chart
        .draw_secondary_series(LineSeries::new(
            samples
                .iter()
                .map(|s| (s.at_ms, s.outstanding_garbage as f64)),
            GENERATION_COLORS[1].stroke_width(1),
        ))
        .map_err(|e| err(&e))?
        .label("garbage waiting, just before the collection (right)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], GENERATION_COLORS[1]));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(pause_us: f64, generation: usize) -> Sample {
        Sample {
            at_ms: 0.0,
            pause_us,
            generation,
            collected: 0,
            live_objects: 0,
            outstanding_garbage: 0,
        }
    }

    #[test]
    fn histogram_bins_by_generation_and_clamps_long_pauses() {
        let samples = [
            sample(1.0, 0),
            sample(9.9, 0),
            sample(50.0, 1),
            sample(500.0, 2),
        ];
        let h = pause_histogram(&samples, 10, 100.0);
        assert_eq!(h[0][0], 2, "{h:?}");
        assert_eq!(h[1][5], 1, "{h:?}");
        assert_eq!(h[2][9], 1, "a pause past the top lands in the last bin");
        let total: u32 = h.iter().flatten().sum();
        assert_eq!(total, 4);
    }
}
