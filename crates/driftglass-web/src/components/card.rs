//! One result card: input, reconstruction and error map with the image's numbers, or the
//! reason the input could not be scored.

use driftglass_core::report::ImageOutcome;
use yew::prelude::*;

use crate::view::Card;

#[derive(Properties, PartialEq)]
pub struct CardProps {
    pub card: Card,
}

#[function_component(ResultCard)]
pub fn result_card(props: &CardProps) -> Html {
    let card = &props.card;
    // Encoded when the card is first shown (the grid renders only the cards in view).
    let images = use_memo(card.pixels.clone(), |pixels| {
        pixels.as_ref().map(|pixels| pixels.images())
    });
    match (&card.outcome, &*images) {
        (ImageOutcome::Scored(s), Some(images)) => html! {
            <article class={classes!("card", s.flagged.then_some("flagged"))} data-testid="card"
                data-name={card.name.clone()} data-loss={s.loss.to_string()}
                data-p-value={s.p_value.to_string()} data-percentile={s.percentile.to_string()}
                data-novelty={s.novelty.map(|t| t.to_string()).unwrap_or_default()}>
                <div class="pictures">
                    <figure><img src={images.input.clone()} alt="input" /><figcaption>{ "input" }</figcaption></figure>
                    <figure><img src={images.reconstruction.clone()} alt="reconstruction" /><figcaption>{ "redrawn" }</figcaption></figure>
                    <figure><img src={images.error.clone()} alt="error map" /><figcaption>{ "error" }</figcaption></figure>
                </div>
                <div class="name" title={card.name.clone()}>{ &card.name }</div>
                <div class="numbers">
                    { crate::view::card_scores(s) }
                    if s.flagged { <strong class="flag">{ " drifted" }</strong> }
                </div>
            </article>
        },
        (ImageOutcome::Failed { error }, _) => html! {
            <article class="card failed" data-testid="card-error" data-name={card.name.clone()}>
                <div class="name" title={card.name.clone()}>{ &card.name }</div>
                <div class="error" tabindex="0">{ error }</div>
            </article>
        },
        (ImageOutcome::Scored(_), None) => html! {},
    }
}
