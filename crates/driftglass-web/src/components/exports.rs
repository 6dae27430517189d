//! The batch's download buttons: report (JSON, CSV, HTML, the last with thumbnails of the most
//! drifted images when ticked), histogram and timeline (SVG, PNG).

use yew::prelude::*;

use crate::export::Export;

#[derive(Properties, PartialEq)]
pub struct ExportsProps {
    pub on_export: Callback<Export>,
}

#[function_component(Exports)]
pub fn exports(props: &ExportsProps) -> Html {
    let with_images = use_state(|| false);
    let on_images = {
        let with_images = with_images.clone();
        Callback::from(move |event: Event| {
            if let Some(input) = event.target_dyn_into::<web_sys::HtmlInputElement>() {
                with_images.set(input.checked());
            }
        })
    };
    let images = *with_images;
    html! {
        <div class="exports" data-testid="exports">{ "Download: " }
            { for Export::ALL.into_iter().map(|(what, text)| {
                let sent = if what == Export::Html && images { Export::HtmlWithImages } else { what };
                let onclick = props.on_export.reform(move |_: MouseEvent| sent);
                html! { <button data-testid={format!("export-{what:?}")} {onclick}>{ text }</button> }
            }) }
            <label title={format!("The {} most drifted images' input, reconstruction and error map, in the HTML report", crate::export::THUMBNAILS)}>
                <input type="checkbox" checked={images} onchange={on_images} data-testid="export-html-images" />
                { " HTML report with thumbnails" }</label>
            <span class="hint">{ "Files are made in this page; nothing is sent anywhere." }</span>
        </div>
    }
}
