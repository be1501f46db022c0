// The guiding phase of kiosk/guidance.py's GuidanceLoop.step, rule for rule: one instruction per
// frame; the face followed by the mesh between detections (track.js); every frame of a passing
// streak detected at full size (any of them may be captured, so quality is judged on the face that
// is screened); after consecutive_frames passing frames in a row, the sharpest of them is the
// capture, with the analysis whose face screening reuses. The numbers are app.json's "guidance"
// and "find". Pinned against the kiosk by tests/kiosk/tablet/test_tablet_quality.py.

import { FaceTrack } from './track.js';

export class Guide {
  constructor(screener) {
    this.screener = screener;
    this.config = screener.app.guidance;
    this.track = new FaceTrack(screener.app.find);
    this.reset();
  }

  // One uint8 RGB frame seen at `now` (ms); `frame` is what the caller keeps of it (e.g. its canvas).
  // Returns { key, analysis, capture }: the message key ('hold' while passing), this frame's
  // analysis, and, when the streak is complete, the sharpest frame of it { rgb, h, w, frame, analysis }.
  async step(rgb, h, w, now, frame = null) {
    if (this.lastT !== null && now - this.lastT > this.config.max_frame_gap_s * 1000) {
      this.streak = [];
      this.track.lose();  // after a long gap the face may be anywhere
    }
    this.lastT = now;
    let a = await this.screener.analyse(rgb, h, w, this.track, this.streak.length > 0);
    if (a.report.passed && a.tracked) a = await this.screener.analyse(rgb, h, w, this.track, true);  // a streak starts on a detection
    if (!a.report.passed) { this.streak = []; return { key: a.report.instruction, analysis: a, capture: null }; }
    const sharp = a.report.results.find((r) => r.name === 'sharpness').raw ?? 0;
    this.streak.push({ sharp, rgb, h, w, frame, analysis: a });
    if (this.streak.length < this.config.consecutive_frames) return { key: 'hold', analysis: a, capture: null };
    const best = this.streak.reduce((x, y) => (y.sharp > x.sharp ? y : x));  // the first of equals, as Python's max
    this.streak = [];
    return { key: 'hold', analysis: a, capture: best };
  }

  // GuidanceLoop._reset (a retake, or the result shown): the streak and the frame clock start again
  reset() { this.streak = []; this.lastT = null; }
}
