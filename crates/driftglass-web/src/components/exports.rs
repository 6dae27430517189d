//! The batch's download buttons: report (JSON, CSV), histogram and timeline (SVG, PNG).

use yew::prelude::*;

use crate::export::Export;

#[derive(Properties, PartialEq)]
pub struct ExportsProps {
    pub on_export: Callback<Export>,
}

#[function_component(Exports)]
pub fn exports(props: &ExportsProps) -> Html {
    html! {
        <div class="exports" data-testid="exports">{ "Download: " }
            { for Export::ALL.into_iter().map(|(what, text)| {
                let onclick = props.on_export.reform(move |_: MouseEvent| what);
                html! { <button data-testid={format!("export-{what:?}")} {onclick}>{ text }</button> }
            }) }
            <span class="hint">{ "Files are made in this page; nothing is sent anywhere." }</span>
        </div>
    }
}
