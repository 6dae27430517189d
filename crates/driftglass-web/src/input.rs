//! Gathering inputs from the browser: dropped files and folders (directory entries are walked),
//! the file and folder pickers, and the clipboard.

use js_sys::{Array, Promise};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DataTransfer, File, FileList, FileSystemDirectoryEntry, FileSystemDirectoryReader,
    FileSystemEntry, FileSystemFileEntry,
};

use crate::pipeline::Source;

/// Most files taken from one drop; the rest are reported, not silently dropped.
pub const MAX_FILES: usize = 100_000;

/// What a drop holds, taken synchronously from the event (its items are gone after it).
#[derive(Debug, Default)]
pub struct Dropped {
    entries: Vec<FileSystemEntry>,
    files: Vec<File>,
}

impl Dropped {
    /// Entries (files and folders) of a drop or paste; plain files where the browser offers no
    /// entries.
    pub fn from_data_transfer(data: &DataTransfer) -> Self {
        let mut dropped = Dropped::default();
        let items = data.items();
        for i in 0..items.length() {
            let Some(item) = items.get(i) else { continue };
            if item.kind() != "file" {
                continue;
            }
            match item.webkit_get_as_entry() {
                Ok(Some(entry)) => dropped.entries.push(entry),
                _ => {
                    if let Ok(Some(file)) = item.get_as_file() {
                        dropped.files.push(file);
                    }
                }
            }
        }
        if dropped.entries.is_empty() && dropped.files.is_empty() {
            dropped.files = files_of(data.files());
        }
        dropped
    }

    /// Take a drop's or paste's files now (the browser empties the transfer after the event),
    /// walk its folders, then hand the sources to `deliver`.
    pub fn gather(data: &DataTransfer, deliver: impl FnOnce(Vec<Source>) + 'static) {
        let dropped = Dropped::from_data_transfer(data);
        wasm_bindgen_futures::spawn_local(async move { deliver(dropped.into_sources().await) });
    }

    /// Walk folders (depth first, names sorted like the CLI's) into sources. Problems reading
    /// a folder become per-entry errors.
    pub async fn into_sources(self) -> Vec<Source> {
        let mut sources: Vec<Source> = self
            .files
            .into_iter()
            .map(|file| Source::File {
                name: file.name(),
                file,
            })
            .collect();
        let mut stack: Vec<FileSystemEntry> = self.entries.into_iter().rev().collect();
        while let Some(entry) = stack.pop() {
            if sources.len() >= MAX_FILES {
                sources.push(Source::Failed {
                    name: entry_name(&entry),
                    error: format!("not read: a drop takes at most {MAX_FILES} files"),
                });
                break;
            }
            if entry.is_directory() {
                let directory: FileSystemDirectoryEntry = entry.unchecked_into();
                match read_directory(&directory.create_reader()).await {
                    Ok(children) if children.is_empty() => sources.push(Source::Failed {
                        name: entry_name(&directory),
                        error: "empty folder: nothing to score".into(),
                    }),
                    Ok(children) => {
                        // Each name is asked of the browser once (a sort would ask ~n·log n
                        // times, 200 ms for a folder of 10,000).
                        let mut named: Vec<(String, FileSystemEntry)> =
                            children.into_iter().map(|c| (c.name(), c)).collect();
                        named.sort_by(|a, b| b.0.cmp(&a.0));
                        stack.extend(named.into_iter().map(|(_, c)| c));
                    }
                    Err(error) => sources.push(Source::Failed {
                        name: entry_name(&directory),
                        error: format!("cannot list folder: {error}"),
                    }),
                }
            } else {
                // Opened when its chunk is scored: listing a folder of thousands stays quick.
                sources.push(Source::Entry {
                    name: entry_name(&entry),
                    entry: entry.unchecked_into(),
                });
            }
        }
        sources
    }
}

/// The entry's path in the drop, without the leading slash ("digits/3.png").
fn entry_name(entry: &FileSystemEntry) -> String {
    let path = entry.full_path();
    let path = path.trim_start_matches('/');
    if path.is_empty() {
        entry.name()
    } else {
        path.to_string()
    }
}

pub(crate) fn describe(error: wasm_bindgen::JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"))
}

/// All entries of a folder: `readEntries` returns them in batches until an empty one.
async fn read_directory(
    reader: &FileSystemDirectoryReader,
) -> Result<Vec<FileSystemEntry>, String> {
    let mut all = Vec::new();
    loop {
        let promise = Promise::new(&mut |resolve, reject| {
            if let Err(error) = reader
                .read_entries_with_callback_and_error_callback(&resolve, reject.unchecked_ref())
            {
                let _ = reject.call1(&wasm_bindgen::JsValue::NULL, &error);
            }
        });
        let batch: Array = JsFuture::from(promise)
            .await
            .map_err(describe)?
            .unchecked_into();
        if batch.length() == 0 {
            return Ok(all);
        }
        all.extend(batch.iter().map(|e| e.unchecked_into::<FileSystemEntry>()));
    }
}

/// The file behind a folder entry.
pub(crate) async fn entry_file(entry: &FileSystemFileEntry) -> Result<File, String> {
    let promise = Promise::new(&mut |resolve, reject| {
        entry.file_with_callback_and_error_callback(&resolve, reject.unchecked_ref());
    });
    Ok(JsFuture::from(promise)
        .await
        .map_err(describe)?
        .unchecked_into())
}

/// The files of a file list (file or folder picker), named by their path in a picked folder.
pub fn sources_of(list: Option<FileList>) -> Vec<Source> {
    files_of(list)
        .into_iter()
        .map(|file| {
            let relative = js_sys::Reflect::get(&file, &"webkitRelativePath".into())
                .ok()
                .and_then(|v| v.as_string())
                .filter(|p| !p.is_empty());
            Source::File {
                name: relative.unwrap_or_else(|| file.name()),
                file,
            }
        })
        .collect()
}

fn files_of(list: Option<FileList>) -> Vec<File> {
    let Some(list) = list else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// The drag callbacks of a drop zone: `ondrop` takes the drop's files and folders and hands
/// their sources to `deliver`; `dragging` is true while something is dragged over the zone.
#[derive(Debug)]
pub struct DropZone {
    pub ondrop: yew::Callback<web_sys::DragEvent>,
    pub ondragover: yew::Callback<web_sys::DragEvent>,
    pub ondragleave: yew::Callback<web_sys::DragEvent>,
}

/// Callbacks for a drop zone that delivers to `deliver` and highlights through `dragging`.
pub fn drop_zone(
    dragging: yew::UseStateHandle<bool>,
    deliver: yew::Callback<Vec<Source>>,
) -> DropZone {
    let ondrop = {
        let dragging = dragging.clone();
        yew::Callback::from(move |event: web_sys::DragEvent| {
            event.prevent_default();
            dragging.set(false);
            let Some(data) = event.data_transfer() else {
                return;
            };
            let deliver = deliver.clone();
            Dropped::gather(&data, move |sources| deliver.emit(sources));
        })
    };
    let ondragover = {
        let dragging = dragging.clone();
        yew::Callback::from(move |event: web_sys::DragEvent| {
            event.prevent_default();
            dragging.set(true);
        })
    };
    let ondragleave = yew::Callback::from(move |_| dragging.set(false));
    DropZone {
        ondrop,
        ondragover,
        ondragleave,
    }
}
