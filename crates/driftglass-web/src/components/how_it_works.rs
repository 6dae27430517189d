//! "How it works": the method in a few sentences.

use yew::prelude::*;

#[function_component(HowItWorks)]
pub fn how_it_works() -> Html {
    html! {
        <details class="how" open=true>
            <summary>{ "How it works" }</summary>
            <p>{ "A small neural network (a convolutional autoencoder) learned to redraw the reference images: 60,000 handwritten digits for the bundled model, or your own images (see above). \
                  It squeezes each 28×28 image through a bottleneck and redraws it: images like the ones it learned come back well, unfamiliar ones come back badly." }</p>
            <p>{ "Each image's loss measures how badly it was redrawn. It is compared with the losses of held-out reference images the network never trained on (the baseline: 10,000 digits for the bundled model): \
                  the percentile says where it falls among them." }</p>
            <p>{ "An image is flagged by its novelty score, which looks at it three ways: its loss against images as busy as this one (simple images redraw well whatever they are), how typical the network's internal code of the image is, and how sharp its edges are next to the reference images' (rotating, resizing, blurring or re-encoding an image softens them). \
                  The score is calibrated the same way: an image is flagged when fewer than 1 % of held-out reference images score as high (p < 0.01). It catches rotated and shifted digits the loss alone misses (a model file made before the novelty score flags by the loss)." }</p>
            <p>{ "The loss ratio compares the whole batch with the baseline: +44 % means the batch was redrawn 44 % worse than usual digits. \
                  Any image is first turned gray, shrunk to 28×28 and scaled to [0, 1], exactly as the command-line tool does." }</p>
            <p>{ "The verdict tests the whole batch four ways: are its losses distributed like the baseline's (Kolmogorov–Smirnov), is their mean higher (permutation test), are too many images flagged (binomial), \
                  and do the network's internal codes of the batch sit where those of 500 reference digits sit (latent MMD, which catches batches that are redrawn well but are not like the reference, such as only one kind of digit)." }</p>
            <p>{ "Nothing is uploaded: the network, its weights and every computation live in this page (WebGPU when the browser has it, else the CPU)." }</p>
        </details>
    }
}
