//! Geometry of the virtualised results grid: which rows are in view. Pure, so it is tested
//! natively; `components/results_grid.rs` measures the page and renders those rows.

/// A card's width at least, and the gap between cards, in CSS pixels.
pub const CARD_MIN_WIDTH: f64 = 250.0;
pub const GAP: f64 = 12.0;
/// A card's fixed height (`.card` in style.css keeps its content inside).
pub const CARD_HEIGHT: f64 = 170.0;
/// From one row's top to the next's.
pub const ROW: f64 = CARD_HEIGHT + GAP;
/// Rows rendered beyond the viewport on each side, so that scrolling shows no blank rows.
pub const OVERSCAN: usize = 3;

/// The rows the grid renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub columns: usize,
    pub first_row: usize,
    pub rows: usize,
}

/// The rows of a grid `width` wide whose top is `top` pixels below the viewport's top (negative
/// once scrolled past), in a viewport `viewport` high.
pub fn window_of(width: f64, top: f64, viewport: f64) -> Window {
    let columns = (((width + GAP) / (CARD_MIN_WIDTH + GAP)).floor() as usize).max(1);
    let first_visible = (-top / ROW).floor().max(0.0) as usize;
    // One past the last row with any pixel in view.
    let last_visible = ((viewport - top) / ROW).ceil().max(0.0) as usize;
    let first_row = first_visible.saturating_sub(OVERSCAN);
    Window {
        columns,
        first_row,
        rows: (last_visible + OVERSCAN).max(first_row + 1) - first_row,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_covers_the_viewport_and_a_few_rows_more() {
        // 1,052 px wide: four columns of at least 250 px with 12 px gaps.
        let w = window_of(1052.0, 300.0, 900.0);
        assert_eq!(w.columns, 4);
        assert_eq!(w.first_row, 0);
        // Rows from 300 px down to 900 px are in view: 4 rows, plus the overscan.
        assert_eq!(w.rows, (600.0 / ROW).ceil() as usize + OVERSCAN);
        // Scrolled 20 rows and 5 px past the grid's top.
        let w = window_of(1052.0, -20.0 * ROW - 5.0, 900.0);
        assert_eq!(w.first_row, 20 - OVERSCAN);
        let last_visible = ((20.0 * ROW + 5.0 + 900.0) / ROW).ceil() as usize;
        assert_eq!(w.first_row + w.rows, last_visible + OVERSCAN);
        // A grid far below the fold still renders a row (nothing is in view).
        let w = window_of(1052.0, 5000.0, 900.0);
        assert_eq!((w.first_row, w.rows), (0, OVERSCAN.max(1)));
        // A phone: one column.
        assert_eq!(window_of(343.0, 0.0, 700.0).columns, 1);
        assert_eq!(window_of(0.0, 0.0, 0.0).columns, 1);
    }
}
