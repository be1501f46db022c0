// Following the face between detections: kiosk/tracking.py's FaceTrack, rule for rule. The face
// mesh runs on every guidance frame anyway and reads the face from the previous frame's box; the
// similarity transform between its points now and at the last detection carries the detector's box
// and five landmarks along, so the measures keep reading a face in the detector's own convention.
// The numbers (redetect_every, min_frame_iou, track_points) are app.json's "find", written from the
// kiosk's FindConfig at export. Pinned against Python by tests/kiosk/tablet/test_tablet_quality.py.

import { similarityTransform } from './align.js';
import { iou } from './mtcnn.js';

export class FaceTrack {
  constructor(find) {
    this.redetectEvery = find.redetect_every;
    this.minIou = find.min_frame_iou;
    this.nPoints = find.track_points;
    this.lose();
  }

  // this frame must be detected
  get due() { return this.face === null || this.redetectEvery === 0 || this.age >= this.redetectEvery; }

  // a fresh detection and its mesh: the reference the following frames are mapped from
  start(face, mesh) {
    if (!mesh) { this.lose(); return; }
    this.face = face; this.refFace = face; this.age = 0;
    this.refPoints = mesh.points.slice(0, this.nPoints).map((p) => [p[0], p[1]]);
  }

  // The detection carried onto this frame, or null when the face moved so far that the mesh read
  // it from an ill-fitting crop (its points are then not to be trusted: detect instead).
  follow(mesh) {
    const m = similarityTransform(this.refPoints, mesh.points.slice(0, this.nPoints));
    const ref = this.refFace, [x1, y1, x2, y2] = ref.box;
    const scale = Math.sqrt(Math.abs(m[0][0] * m[1][1] - m[0][1] * m[1][0]));
    const map = ([x, y]) => [m[0][0] * x + m[0][1] * y + m[0][2], m[1][0] * x + m[1][1] * y + m[1][2]];
    const [cx, cy] = map([(x1 + x2) / 2, (y1 + y2) / 2]);
    const hw = ((x2 - x1) * scale) / 2, hh = ((y2 - y1) * scale) / 2;
    const face = { box: [cx - hw, cy - hh, cx + hw, cy + hh], confidence: ref.confidence, landmarks: ref.landmarks.map(map) };
    if (iou(face.box, this.face.box) < this.minIou) { this.lose(); return null; }
    this.face = face;
    this.age += 1;
    return face;
  }

  lose() { this.face = null; this.refFace = null; this.refPoints = null; this.age = 0; }
}
