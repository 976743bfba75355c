// The demo page: open an image, draw boxes, and see predict's means and ellipses over it.
// Plain ES module, no build step. Everything drawn comes from POST /v1/models/{model}/predict.

const SVG = 'http://www.w3.org/2000/svg';
const EXAMPLE_URL = '/page/example.jpg';
// The example face's box, so the bundled picture shows a prediction at once.
const EXAMPLE_BOX = { x: 200, y: 90, width: 240, height: 320 };
const MIN_BOX_PX = 4;
const PREDICT_DELAY_MS = 120;

// The same scale as src/render/uncertainty-colour.ts (the browser test checks they agree).
const STOPS = [
  { relativeRmse: 0.005, rgb: [26, 150, 65] },
  { relativeRmse: 0.01, rgb: [166, 217, 106] },
  { relativeRmse: 0.02, rgb: [255, 255, 191] },
  { relativeRmse: 0.04, rgb: [253, 174, 97] },
  { relativeRmse: 0.08, rgb: [215, 25, 28] },
];

function uncertaintyColour(relative) {
  const first = STOPS[0];
  const last = STOPS[STOPS.length - 1];
  let rgb = last.rgb;
  if (!(relative > first.relativeRmse)) rgb = first.rgb;
  else {
    for (let index = 1; index < STOPS.length; index++) {
      const low = STOPS[index - 1];
      const high = STOPS[index];
      if (relative < high.relativeRmse) {
        const t = Math.log(relative / low.relativeRmse) / Math.log(high.relativeRmse / low.relativeRmse);
        rgb = low.rgb.map((from, channel) => Math.round(from + t * (high.rgb[channel] - from)));
        break;
      }
    }
  }
  return `#${rgb.map((value) => value.toString(16).padStart(2, '0')).join('')}`;
}

const $ = (selector) => document.querySelector(selector);
const elements = {
  tokenSection: $('#token-section'),
  tokenForm: $('#token-form'),
  token: $('#token'),
  tokenError: $('#token-error'),
  file: $('#file'),
  example: $('#example'),
  model: $('#model'),
  modelDescription: $('#model-description'),
  untrained: $('#untrained'),
  tta: $('#tta'),
  fusion: $('#fusion'),
  level: $('#level'),
  levelValue: $('#level-value'),
  views: $('#views'),
  boxList: $('#box-list'),
  clearBoxes: $('#clear-boxes'),
  status: $('#status'),
  canvas: $('#canvas'),
  svg: $('#overlay'),
  hover: $('#hover'),
};
const layers = Object.fromEntries(
  ['boxes', 'edges', 'views', 'ellipses', 'means', 'handles'].map((name) => [name, elements.svg.querySelector(`g.${name}`)]),
);
const pictureElement = elements.svg.querySelector('image.input');

const state = {
  /** Kept in memory only: never written to storage, cookies or the URL. */
  token: null,
  models: [],
  image: null, // { url, base64, width, height }
  boxes: [],
  selected: -1,
  prediction: null,
  requestNumber: 0,
  timer: 0,
};

class NeedsToken extends Error {}

async function api(path, init = {}) {
  const headers = new Headers(init.headers);
  if (state.token !== null) headers.set('authorization', `Bearer ${state.token}`);
  const response = await fetch(path, { ...init, headers });
  if (response.status === 401) {
    showTokenForm(state.token === null ? '' : 'The server did not accept that token.');
    throw new NeedsToken('the API needs a bearer token');
  }
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      const problem = await response.json();
      if (problem.detail) detail = `${problem.title ?? response.status}: ${problem.detail}`;
    } catch {
      // Not a problem+json body; the status line says enough.
    }
    throw new Error(detail);
  }
  return response.json();
}

function showTokenForm(message) {
  elements.tokenSection.hidden = false;
  elements.tokenError.hidden = message === '';
  elements.tokenError.textContent = message;
  setStatus('This server needs an access token: enter it on the left.', 'error');
  elements.token.focus();
}

function setStatus(text, kind = '') {
  elements.status.textContent = text;
  elements.status.className = kind;
}

// ---- models -------------------------------------------------------------------------------------

async function loadModels() {
  const { models } = await api('/v1/models');
  state.models = models;
  const previous = elements.model.value;
  elements.model.replaceChildren(
    ...models.map((model) => {
      const option = document.createElement('option');
      option.value = model.name;
      option.disabled = model.state !== 'ready';
      const notes = [model.trained === false ? 'untrained' : '', model.state !== 'ready' ? model.state : ''].filter(Boolean);
      option.textContent = notes.length > 0 ? `${model.name} (${notes.join(', ')})` : model.name;
      return option;
    }),
  );
  const ready = models.filter((model) => model.state === 'ready');
  const keep = ready.find((model) => model.name === previous);
  elements.model.value = keep ? keep.name : (ready[0]?.name ?? '');
  if (models.length === 0) setStatus('The model repository is empty.', 'error');
  else if (ready.length === 0) setStatus('No model is ready yet; reload the page in a moment.', 'error');
  describeModel();
}

function currentModel() {
  return state.models.find((model) => model.name === elements.model.value);
}

function describeModel() {
  const model = currentModel();
  elements.modelDescription.textContent = model?.description ?? '';
  elements.modelDescription.title = model?.description ?? '';
  const untrained = model?.trained === false;
  elements.untrained.hidden = !untrained;
  elements.untrained.replaceChildren();
  if (untrained) {
    const heading = document.createElement('strong');
    heading.textContent = 'Untrained model. ';
    elements.untrained.append(
      heading,
      `${model.name} has demonstration weights (trained: false): its points do not follow what the image shows, ` +
        'and its ellipses describe those weights, not this image.',
    );
  }
}

// ---- image --------------------------------------------------------------------------------------

function readBase64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(',')[1] ?? '');
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

async function openImage(blob, boxes = []) {
  if (!blob.type.startsWith('image/')) {
    setStatus(`${blob.name ?? 'That file'} is not an image.`, 'error');
    return;
  }
  let bitmap;
  try {
    // from-image: the same EXIF orientation the server applies, so coordinates agree.
    bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image' });
  } catch {
    setStatus('The browser cannot read that image.', 'error');
    return;
  }
  if (state.image) URL.revokeObjectURL(state.image.url);
  state.image = { url: URL.createObjectURL(blob), base64: await readBase64(blob), width: bitmap.width, height: bitmap.height };
  bitmap.close();
  state.boxes = boxes.map((box) => ({ ...box }));
  state.selected = -1;
  state.prediction = null;
  const { width, height } = state.image;
  elements.svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  pictureElement.setAttribute('width', width);
  pictureElement.setAttribute('height', height);
  pictureElement.setAttribute('href', state.image.url);
  // SVG elements have no `hidden` property; the attribute itself must go.
  elements.svg.removeAttribute('hidden');
  elements.canvas.classList.add('has-image');
  drawBoxes();
  drawPrediction();
  schedulePredict(0);
}

async function openExample() {
  const response = await fetch(EXAMPLE_URL);
  await openImage(await response.blob(), [EXAMPLE_BOX]);
}

// ---- prediction ---------------------------------------------------------------------------------

function schedulePredict(delay = PREDICT_DELAY_MS) {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => void predict(), delay);
}

async function predict() {
  const model = currentModel();
  if (!state.image || !model || model.state !== 'ready') return;
  const number = ++state.requestNumber;
  const body = {
    image: state.image.base64,
    boxes: state.boxes.map(({ x, y, width, height }) => ({ x, y, width, height })),
    tta: elements.tta.checked,
    fusion: elements.fusion.value,
    level: Number(elements.level.value),
    includeViews: elements.views.checked,
  };
  setStatus('Predicting…', 'busy');
  elements.canvas.classList.add('busy');
  try {
    const prediction = await api(`/v1/models/${encodeURIComponent(model.name)}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    // A slower answer to an older request must not replace a newer one.
    if (number !== state.requestNumber) return;
    state.prediction = prediction;
    const keypoints = prediction.instances.reduce((sum, instance) => sum + instance.keypoints.length, 0);
    const boxes = prediction.instances.length;
    setStatus(
      `${keypoints} keypoints in ${boxes === 1 ? '1 box' : `${boxes} boxes`} · ${prediction.model.name} on ${prediction.model.executionProvider} · ${prediction.timings.totalMs.toFixed(0)} ms`,
      'done',
    );
  } catch (error) {
    if (number !== state.requestNumber) return;
    state.prediction = null;
    if (!(error instanceof NeedsToken)) setStatus(error.message, 'error');
  } finally {
    if (number === state.requestNumber) elements.canvas.classList.remove('busy');
  }
  drawPrediction();
  // Which answer is on screen, for anyone (a browser test) waiting for a redraw.
  elements.svg.dataset.prediction = String(number);
}

// ---- drawing ------------------------------------------------------------------------------------

function svgElement(name, attributes, title) {
  const element = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (title) {
    const titleElement = document.createElementNS(SVG, 'title');
    titleElement.textContent = title;
    element.append(titleElement);
  }
  return element;
}

/** Image pixels per screen pixel, so dots and handles keep their on-screen size. */
function pixelScale() {
  const rect = elements.svg.getBoundingClientRect();
  return state.image && rect.width > 0 ? Math.max(state.image.width / rect.width, state.image.height / rect.height) : 1;
}

const format = (value, digits = 2) => Number(value).toFixed(digits);

function ellipseAttributes(keypoint) {
  const { x, y, ellipse } = keypoint;
  return { cx: x, cy: y, rx: ellipse.semiMajor, ry: ellipse.semiMinor, transform: `rotate(${ellipse.angle} ${x} ${y})` };
}

function drawPrediction() {
  for (const name of ['edges', 'views', 'ellipses', 'means']) layers[name].replaceChildren();
  const prediction = state.prediction;
  if (!prediction) return;
  const scale = pixelScale();
  const edges = currentModel()?.manifest?.edges ?? [];
  prediction.instances.forEach((instance, instanceIndex) => {
    const diagonal = Math.hypot(instance.box.width, instance.box.height);
    for (const [a, b] of edges) {
      const from = instance.keypoints[a];
      const to = instance.keypoints[b];
      if (from && to) layers.edges.append(svgElement('line', { class: 'edge', x1: from.x, y1: from.y, x2: to.x, y2: to.y }));
    }
    for (const view of instance.views ?? []) {
      const label = view.mirrored ? 'mirrored' : 'original';
      for (const keypoint of view.keypoints) {
        layers.views.append(
          svgElement('ellipse', {
            class: `view ${label}`,
            ...ellipseAttributes(keypoint),
            stroke: uncertaintyColour(keypoint.rmse / diagonal),
          }),
        );
      }
    }
    instance.keypoints.forEach((keypoint, keypointIndex) => {
      const colour = uncertaintyColour(keypoint.rmse / diagonal);
      const data = { 'data-instance': instanceIndex, 'data-keypoint': keypointIndex };
      const title = `${keypoint.name}: rmse ${format(keypoint.rmse)} px`;
      layers.ellipses.append(
        svgElement('ellipse', { class: 'uncertainty', ...ellipseAttributes(keypoint), stroke: colour, ...data }, title),
      );
      layers.means.append(
        svgElement('circle', { class: 'mean', cx: keypoint.x, cy: keypoint.y, r: 3.5 * scale, fill: colour, ...data }, title),
      );
    });
  });
}

function drawBoxes() {
  layers.boxes.replaceChildren();
  layers.handles.replaceChildren();
  const scale = pixelScale();
  state.boxes.forEach((box, index) => {
    const selected = index === state.selected;
    layers.boxes.append(
      svgElement('rect', {
        class: selected ? 'box selected' : 'box',
        x: box.x,
        y: box.y,
        width: box.width,
        height: box.height,
        'data-box': index,
      }),
    );
    const handle = 9 * scale;
    layers.handles.append(
      svgElement('rect', {
        class: 'resize',
        x: box.x + box.width - handle / 2,
        y: box.y + box.height - handle / 2,
        width: handle,
        height: handle,
        'data-box': index,
      }),
    );
    const remove = svgElement('g', { class: 'remove', 'data-box': index }, `Remove box ${index + 1}`);
    const radius = 9 * scale;
    const cx = box.x + box.width;
    const cy = box.y;
    remove.append(svgElement('circle', { cx, cy, r: radius }));
    const arm = radius * 0.45;
    remove.append(
      svgElement('path', {
        d: `M${cx - arm} ${cy - arm}L${cx + arm} ${cy + arm}M${cx + arm} ${cy - arm}L${cx - arm} ${cy + arm}`,
      }),
    );
    layers.handles.append(remove);
  });
  elements.boxList.replaceChildren(
    ...state.boxes.map((box, index) => {
      const item = document.createElement('li');
      item.className = index === state.selected ? 'selected' : '';
      const text = document.createElement('span');
      text.textContent = `x ${Math.round(box.x)}, y ${Math.round(box.y)}, ${Math.round(box.width)} × ${Math.round(box.height)}`;
      text.addEventListener('click', () => select(index));
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = '×';
      remove.title = `Remove box ${index + 1}`;
      remove.addEventListener('click', () => removeBox(index));
      item.append(text, remove);
      return item;
    }),
  );
  elements.clearBoxes.disabled = state.boxes.length === 0;
}

function select(index) {
  state.selected = index;
  drawBoxes();
}

function removeBox(index) {
  state.boxes.splice(index, 1);
  state.selected = -1;
  drawBoxes();
  schedulePredict();
}

// ---- mouse --------------------------------------------------------------------------------------

function imagePoint(event) {
  const point = elements.svg.createSVGPoint();
  point.x = event.clientX;
  point.y = event.clientY;
  const { x, y } = point.matrixTransform(elements.svg.getScreenCTM().inverse());
  return { x: Math.min(Math.max(x, 0), state.image.width), y: Math.min(Math.max(y, 0), state.image.height) };
}

let drag = null;

elements.svg.addEventListener('pointerdown', (event) => {
  if (!state.image || event.button !== 0) return;
  const target = event.target.closest('[data-box]');
  const start = imagePoint(event);
  if (target?.classList.contains('remove')) {
    removeBox(Number(target.dataset.box));
    return;
  }
  if (target) {
    const index = Number(target.dataset.box);
    select(index);
    drag = { kind: target.classList.contains('resize') ? 'resize' : 'move', index, start, original: { ...state.boxes[index] } };
  } else {
    state.selected = -1;
    drag = { kind: 'draw', index: -1, start, original: null };
  }
  elements.svg.setPointerCapture(event.pointerId);
  // preventDefault keeps focus where it was; the drawing takes it so Delete reaches the selected box.
  event.preventDefault();
  elements.svg.focus({ preventScroll: true });
});

/** Applies the pointer's position to the box being drawn, moved or resized. */
function updateDrag(event) {
  const point = imagePoint(event);
  const dx = point.x - drag.start.x;
  const dy = point.y - drag.start.y;
  if (drag.kind === 'draw') {
    const box = {
      x: Math.min(point.x, drag.start.x),
      y: Math.min(point.y, drag.start.y),
      width: Math.abs(dx),
      height: Math.abs(dy),
    };
    if (drag.index < 0 && box.width >= MIN_BOX_PX && box.height >= MIN_BOX_PX) {
      state.boxes.push(box);
      drag.index = state.boxes.length - 1;
      state.selected = drag.index;
    } else if (drag.index >= 0) state.boxes[drag.index] = box;
  } else if (drag.kind === 'move') {
    const { width, height } = drag.original;
    state.boxes[drag.index] = {
      width,
      height,
      x: Math.min(Math.max(drag.original.x + dx, -width / 2), state.image.width - width / 2),
      y: Math.min(Math.max(drag.original.y + dy, -height / 2), state.image.height - height / 2),
    };
  } else {
    state.boxes[drag.index] = {
      ...drag.original,
      width: Math.max(MIN_BOX_PX, drag.original.width + dx),
      height: Math.max(MIN_BOX_PX, drag.original.height + dy),
    };
  }
  drawBoxes();
}

elements.svg.addEventListener('pointermove', (event) => {
  if (drag) updateDrag(event);
  else showHover(event);
});

function endDrag(event) {
  if (!drag) return;
  // Moves can be coalesced away; the release position is where the person let go.
  updateDrag(event);
  const changed =
    drag.index >= 0 && (drag.kind === 'draw' || JSON.stringify(state.boxes[drag.index]) !== JSON.stringify(drag.original));
  drag = null;
  if (elements.svg.hasPointerCapture(event.pointerId)) elements.svg.releasePointerCapture(event.pointerId);
  drawBoxes();
  if (changed) schedulePredict(0);
}
elements.svg.addEventListener('pointerup', endDrag);
elements.svg.addEventListener('pointercancel', endDrag);

document.addEventListener('keydown', (event) => {
  if (state.selected < 0 || !['Delete', 'Backspace'].includes(event.key)) return;
  if (event.target instanceof HTMLInputElement && ['text', 'password'].includes(event.target.type)) return;
  removeBox(state.selected);
  event.preventDefault();
});

// ---- hover --------------------------------------------------------------------------------------

function showHover(event) {
  const target = event.target.closest('.mean, .uncertainty');
  if (!target || !state.prediction) {
    elements.hover.hidden = true;
    return;
  }
  const instance = state.prediction.instances[Number(target.dataset.instance)];
  const keypoint = instance?.keypoints[Number(target.dataset.keypoint)];
  if (!keypoint) return;
  const [[sxx, sxy], [, syy]] = keypoint.covariance;
  const share = (100 * keypoint.rmse) / Math.hypot(instance.box.width, instance.box.height);
  const rows = [
    ['Keypoint', keypoint.name],
    ['Position', `x ${format(keypoint.x)}, y ${format(keypoint.y)} px`],
    ['rmse', `${format(keypoint.rmse)} px (${format(share, 1)}% of the box diagonal)`],
    ['Covariance', `[[${format(sxx)}, ${format(sxy)}], [${format(sxy)}, ${format(syy)}]] px²`],
    [
      `${format(100 * keypoint.ellipse.level, 0)}% ellipse`,
      `${format(keypoint.ellipse.semiMajor)} × ${format(keypoint.ellipse.semiMinor)} px at ${format(keypoint.ellipse.angle, 1)}°`,
    ],
  ];
  elements.hover.replaceChildren(
    ...rows.flatMap(([term, value]) => {
      const dt = document.createElement('dt');
      dt.textContent = term;
      const dd = document.createElement('dd');
      dd.textContent = value;
      return [dt, dd];
    }),
  );
  elements.hover.hidden = false;
}
elements.svg.addEventListener('pointerleave', () => {
  elements.hover.hidden = true;
});

// ---- controls -----------------------------------------------------------------------------------

elements.file.addEventListener('change', () => {
  const [file] = elements.file.files;
  if (file) void openImage(file);
  elements.file.value = '';
});
elements.example.addEventListener('click', () => void openExample());
elements.model.addEventListener('change', () => {
  describeModel();
  schedulePredict(0);
});
elements.tta.addEventListener('change', () => schedulePredict(0));
elements.fusion.addEventListener('change', () => schedulePredict(0));
elements.views.addEventListener('change', () => schedulePredict(0));
elements.level.addEventListener('input', () => {
  elements.levelValue.textContent = `${Math.round(Number(elements.level.value) * 100)}%`;
  schedulePredict();
});
elements.clearBoxes.addEventListener('click', () => {
  state.boxes = [];
  state.selected = -1;
  drawBoxes();
  schedulePredict(0);
});

document.addEventListener('dragover', (event) => {
  event.preventDefault();
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', (event) => {
  if (event.relatedTarget === null) document.body.classList.remove('dragging');
});
document.addEventListener('drop', (event) => {
  event.preventDefault();
  document.body.classList.remove('dragging');
  const file = [...(event.dataTransfer?.files ?? [])].find((candidate) => candidate.type.startsWith('image/'));
  if (file) void openImage(file);
  else setStatus('Drop an image file (JPEG, PNG, WebP, AVIF, TIFF or GIF).', 'error');
});

elements.tokenForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = elements.token.value.trim();
  if (token === '') return;
  state.token = token;
  elements.token.value = '';
  try {
    await loadModels();
    elements.tokenSection.hidden = true;
    setStatus(state.image ? 'Token accepted.' : 'Token accepted. Open an image to start.', 'done');
    schedulePredict(0);
  } catch (error) {
    if (!(error instanceof NeedsToken)) setStatus(error.message, 'error');
  }
});

new ResizeObserver(() => {
  drawBoxes();
  drawPrediction();
}).observe(elements.svg);

async function start() {
  try {
    await loadModels();
  } catch (error) {
    if (!(error instanceof NeedsToken)) setStatus(`The model list could not be read: ${error.message}`, 'error');
  }
}

void start();
