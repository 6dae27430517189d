// Installs Driftglass' service worker (sw.js) once the app can score (its first install
// downloads the page's files again: on a slow line that would compete with the app's own
// start), so the next visit works offline, and says so when a new version has taken over since the last visit (the worker
// remembers that in its own cache: nothing goes into the page's storage).

function notice(text) {
  const note = document.createElement('p');
  note.className = 'notice';
  note.setAttribute('role', 'status');
  note.dataset.testid = 'updated';
  note.textContent = text;
  document.body.prepend(note);
}

if ('serviceWorker' in navigator) {
  let installing = false;
  const install = async () => {
    if (installing) return;
    installing = true;
    try {
      navigator.serviceWorker.addEventListener('message', ({ data }) => {
        if (data?.driftglassVersion && data.updatedFrom) {
          notice(`Driftglass was updated (version ${data.updatedFrom} → ${data.driftglassVersion}); it works offline.`);
        }
      });
      // The worker that serves this page says which version it is (on a first visit, once it
      // has taken control).
      const ask = () => navigator.serviceWorker.controller?.postMessage('version');
      navigator.serviceWorker.addEventListener('controllerchange', ask);
      await navigator.serviceWorker.register('sw.js');
      ask();
    } catch (error) {
      console.warn(`Driftglass will not work offline: ${error}`);
    }
  };
  // The app says when it is interactive (glue.rs); should it never, install anyway a while
  // after the page has loaded.
  window.addEventListener('driftglass-interactive', install);
  window.addEventListener('load', () => setTimeout(install, 10_000));
}
