//! The grid of result cards, virtualised: only the rows in view (and a few beyond) are in the
//! DOM, so a drop of ten thousand images costs the page a few dozen cards. The grid keeps the
//! height of all its rows, so the page scrolls as if every card were there.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::HtmlElement;
use yew::prelude::*;

use crate::components::card::ResultCard;
use crate::grid_layout::{CARD_HEIGHT, GAP, ROW, Window, window_of};
use crate::state::Cards;
use crate::view::{self, SortOrder};

#[derive(Properties, PartialEq)]
pub struct ResultsGridProps {
    pub cards: Cards,
    pub sort: SortOrder,
    pub flagged_only: bool,
}

/// Measure the grid's place on screen.
fn measure(grid: &NodeRef) -> Option<Window> {
    let element = grid.cast::<HtmlElement>()?;
    let viewport = web_sys::window()?.inner_height().ok()?.as_f64()?;
    let rect = element.get_bounding_client_rect();
    Some(window_of(
        f64::from(element.client_width()),
        rect.top(),
        viewport,
    ))
}

fn set_style(element: Option<HtmlElement>, properties: &[(&str, String)]) {
    if let Some(element) = element {
        let style = element.style();
        for (name, value) in properties {
            // Setting a style through the CSSOM is allowed by the page's strict CSP (a `style`
            // attribute is not).
            let _ = style.set_property(name, value);
        }
    }
}

#[function_component(ResultsGrid)]
pub fn results_grid(props: &ResultsGridProps) -> Html {
    let grid = use_node_ref();
    let inner = use_node_ref();
    let window = use_state_eq(|| window_of(0.0, 0.0, 1000.0));
    let order = use_memo(
        (props.cards.clone(), props.sort, props.flagged_only),
        |(cards, sort, flagged_only)| Rc::new(view::arrange(cards.iter(), *sort, *flagged_only)),
    );

    // Follow scrolling, resizing, and the page's height changing (results above the grid
    // appear or go, moving it without a scroll).
    {
        let (grid, window) = (grid.clone(), window.clone());
        use_effect_with((), move |_| {
            let listener = Closure::<dyn Fn()>::new(move || {
                if let Some(w) = measure(&grid) {
                    window.set(w);
                }
            });
            let target = web_sys::window();
            if let Some(target) = &target {
                for event in ["scroll", "resize"] {
                    let _ = target
                        .add_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
                }
            }
            let observer = web_sys::ResizeObserver::new(listener.as_ref().unchecked_ref()).ok();
            if let (Some(observer), Some(body)) = (
                &observer,
                target
                    .as_ref()
                    .and_then(|w| w.document())
                    .and_then(|d| d.body()),
            ) {
                observer.observe(&body);
            }
            move || {
                if let Some(observer) = observer {
                    observer.disconnect();
                }
                if let Some(target) = target {
                    for event in ["scroll", "resize"] {
                        let _ = target.remove_event_listener_with_callback(
                            event,
                            listener.as_ref().unchecked_ref(),
                        );
                    }
                }
            }
        });
    }
    let total = order.len();
    let Window {
        columns,
        first_row,
        rows,
    } = *window;
    let all_rows = total.div_ceil(columns);
    // After every render of the grid: its height and the window's place.
    {
        let (grid, inner, window) = (grid.clone(), inner.clone(), window.clone());
        use_effect(move || {
            if let Some(w) = measure(&grid) {
                window.set(w);
            }
            let height = (all_rows as f64 * ROW - GAP).max(0.0);
            set_style(grid.cast(), &[("height", format!("{height}px"))]);
            set_style(
                inner.cast(),
                &[
                    (
                        "transform",
                        format!("translateY({}px)", first_row as f64 * ROW),
                    ),
                    (
                        "grid-template-columns",
                        format!("repeat({columns}, minmax(0, 1fr))"),
                    ),
                    ("grid-auto-rows", format!("{CARD_HEIGHT}px")),
                    ("gap", format!("{GAP}px")),
                ],
            );
        });
    }
    let first = (first_row * columns).min(total);
    let last = ((first_row + rows) * columns).min(total);
    let cards: Html = order[first..last]
        .iter()
        .filter_map(|position| props.cards.get(*position))
        .map(|card| html! { <ResultCard key={card.index} card={card.clone()} /> })
        .collect();
    html! {
        <section class="grid" data-testid="grid" ref={grid} aria-label="Results, one card per input"
            data-total={total.to_string()} data-first={first.to_string()} data-columns={columns.to_string()}>
            <div class="grid-window" ref={inner}>{ cards }</div>
        </section>
    }
}
