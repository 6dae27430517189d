// Installs Driftglass' service worker (sw.js) once the page has loaded, so the next visit works
// offline, and says so when a new version has taken over since the last visit (the worker
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
  window.addEventListener('load', async () => {
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
  });
}
