"""Every sentence the kiosk shows a family or a health worker, in a table per language.

Plain words, one instruction at a time, and never the wording of a diagnosis: the result is a
screening flag that decides a referral for genetic evaluation (tests/kiosk/test_kiosk_wording.py scans
this table and the web page for forbidden phrasing). Add a language by adding a table with the
same keys; a test checks that every table has every key.
"""

from __future__ import annotations

from facescreen.edge.result import NO_FLAG, REFER

EN: dict[str, str] = {
    # guidance: one per failing measure (kiosk.quality), highest priority first
    "no_face": "Look at the camera so the face can be seen",
    "one_face_only": "Only one face in the picture, please",
    "move_closer": "Move a little closer",
    "move_back": "Move back a little",
    "move_to_centre": "Move so the face is in the middle of the screen",
    "head_level": "Keep the head straight, not tilted to one side",
    "look_straight": "Look straight at the camera",
    "raise_chin": "Raise the chin a little",
    "lower_chin": "Lower the chin a little",
    "more_light": "Too dark: find more light",
    "less_light": "Too bright: move out of direct light",
    "avoid_glare": "Too much glare on the face: move away from the lamp or turn off the flash",
    "even_light": "One side of the face is in shadow: turn to face the light",
    "hold_still": "Hold still",
    "open_eyes": "Open the eyes and look at the camera",
    "close_mouth": "Close the mouth gently",
    "show_whole_face": "Make sure the whole face can be seen",
    # capture and result
    "hold": "Good. Hold still...",
    "screening": "Checking the photo...",
    "result_title": "Screening result",
    REFER: "Refer for genetic evaluation",
    NO_FLAG: "No referral flag",
    "result_note": "This is a screening flag for referral, not a diagnosis.",
    "refer_advice": "Please arrange a visit to a genetics service.",
    "no_flag_advice": "The photo raised no referral flag. If there are concerns about the child, see a doctor.",
    "probability": "Screening probability {probability:.3f} (threshold {threshold:.3f})",
    "model_line": "Model {model_id} v{version}",
    "not_for_clinical_use": "NOT FOR CLINICAL USE",
    "demo_notice": "DEMO MODEL on SYNTHETIC data - not for clinical use",
    "operator_keys": "R: retake   C: keep the photo (the family consents)   X: cancel",
    "kiosk_saved": "Saved in the results store",
    "kiosk_not_saved": "Not saved: this kiosk runs without a results store (--no-store)",
    "result_returns_in": "Back to guidance in {seconds} s",
    "cam_legend": "Where the model looked: red most, blue least",
    "consent_recorded": "Consent recorded: the photo is kept",
    "cancelled": "Cancelled",
    "try_again": "The photo could not be used. Let us try again.",
    "camera_lost": "Camera not available: reconnecting...",
    "camera_gave_up": "No camera could be opened. Check that it is connected, then start the kiosk again.",
    "quality_failed": "The photo is not good enough yet",
    # the capture page (phones and tablets)
    "take_photo": "Take a photo",
    "retake_button": "Retake",
    "consent_button": "Keep the photo (the family consents)",
    "consent_upload": "The family consents to keeping this photo",
    "needs_secure_origin": "The live camera needs a secure (https) connection. Take a photo instead.",
    "no_camera": "No camera could be opened. Take a photo instead.",
    "starting_camera": "Starting the camera...",
    "token_prompt": "Access token (ask the operator)",
    # the offline tablet app (kiosk/tablet)
    "tablet_title": "Screening on this tablet",
    "tablet_saved": "Saved on this tablet",
    "tablet_counts": "{total} results on this tablet, {waiting} waiting to be sent",
    "tablet_kiosk_url": "Kiosk address",
    "tablet_sync_button": "Send results to the kiosk",
    "tablet_synced": "All results have been sent to the kiosk",
    "tablet_sync_failed": "Could not reach the kiosk: the results stay on this tablet",
    "tablet_offline_ready": "Ready to work without a network",
    "tablet_loading": "Loading the screening model...",
    # the child's programme reference (kiosk/childref.py)
    "child_ref_label": "Child's register number (optional; never a name)",
    "child_ref_scan": "Scan the child's card",
    "child_ref_scanning": "Hold the card's code in front of the camera...",
    "child_ref_not_found": "No code was seen. Type the number instead.",
    "child_ref_invalid": "A register number has 1 to 32 letters, digits or . _ / - and at least one digit. Never type a name.",
    "child_ref_line": "Child: {child_ref}",
    # the tablet, when something is not ordinary
    "tablet_counts_one": "1 result on this tablet, {waiting} waiting to be sent",
    "tablet_wrong_token": "The kiosk refused the access token: check it (ask the operator) and send again",
    "tablet_loading_step": "Loading the screening model: {done} of {total} parts",
    "retake_look_away": "Look away for a moment, then back at the camera",
}

ZH_HANS: dict[str, str] = {
    "no_face": "请看向摄像头，让我们看到脸",
    "one_face_only": "画面中只能有一张脸",
    "move_closer": "请再靠近一点",
    "move_back": "请稍微往后退",
    "move_to_centre": "请移动，让脸位于画面中央",
    "head_level": "请保持头部端正，不要歪向一侧",
    "look_straight": "请正视摄像头",
    "raise_chin": "请把下巴稍微抬高一点",
    "lower_chin": "请把下巴稍微放低一点",
    "more_light": "太暗了，请到光线更亮的地方",
    "less_light": "太亮了，请避开直射光",
    "avoid_glare": "脸上反光太强，请远离灯光或关闭闪光灯",
    "even_light": "脸的一侧有阴影，请面向光源",
    "hold_still": "请保持不动",
    "open_eyes": "请睁开眼睛，看向摄像头",
    "close_mouth": "请轻轻闭上嘴巴",
    "show_whole_face": "请确保整张脸都能被看到",
    "hold": "很好，请保持不动……",
    "screening": "正在检查照片……",
    "result_title": "筛查结果",
    REFER: "建议转诊进行遗传学评估",
    NO_FLAG: "未提示需要转诊",
    "result_note": "这是转诊筛查提示，不是诊断。",
    "refer_advice": "请安排到遗传科就诊。",
    "no_flag_advice": "照片未提示需要转诊。如对孩子有疑虑，请咨询医生。",
    "probability": "筛查概率 {probability:.3f}（阈值 {threshold:.3f}）",
    "model_line": "模型 {model_id} v{version}",
    "not_for_clinical_use": "不可用于临床",
    "demo_notice": "演示模型，基于合成数据——不可用于临床",
    "operator_keys": "R：重拍   C：保存照片（家属同意）   X：取消",
    "kiosk_saved": "已保存到结果库",
    "kiosk_not_saved": "未保存：本筛查站未启用结果库（--no-store）",
    "result_returns_in": "{seconds} 秒后返回拍摄引导",
    "cam_legend": "模型关注的区域：红色最多，蓝色最少",
    "consent_recorded": "已记录同意：照片已保存",
    "cancelled": "已取消",
    "try_again": "这张照片无法使用，我们再试一次。",
    "camera_lost": "摄像头不可用，正在重新连接……",
    "camera_gave_up": "无法打开摄像头。请检查摄像头是否已连接，然后重新启动筛查站。",
    "quality_failed": "照片质量还不够好",
    "take_photo": "拍照",
    "retake_button": "重拍",
    "consent_button": "保存照片（家属同意）",
    "consent_upload": "家属同意保存这张照片",
    "needs_secure_origin": "实时摄像头需要安全连接（https）。请改为拍照。",
    "no_camera": "无法打开摄像头。请改为拍照。",
    "starting_camera": "正在启动摄像头……",
    "token_prompt": "访问令牌（请向操作员索取）",
    "tablet_title": "在本平板上筛查",
    "tablet_saved": "已保存在本平板上",
    "tablet_counts": "本平板上有 {total} 条结果，{waiting} 条等待发送",
    "tablet_kiosk_url": "筛查站地址",
    "tablet_sync_button": "把结果发送到筛查站",
    "tablet_synced": "所有结果都已发送到筛查站",
    "tablet_sync_failed": "无法连接筛查站：结果仍保存在本平板上",
    "tablet_offline_ready": "无网络时也可以使用",
    "tablet_loading": "正在加载筛查模型……",
    "child_ref_label": "儿童登记号（可选；不要填写姓名）",
    "child_ref_scan": "扫描儿童的卡片",
    "child_ref_scanning": "请把卡片上的二维码或条形码对准摄像头……",
    "child_ref_not_found": "没有识别到二维码或条形码。请直接输入登记号。",
    "child_ref_invalid": "登记号由 1 到 32 个字母、数字或 . _ / - 组成，且至少包含一个数字。不要填写姓名。",
    "child_ref_line": "儿童：{child_ref}",
    "tablet_counts_one": "本平板上有 1 条结果，{waiting} 条等待发送",
    "tablet_wrong_token": "筛查站拒绝了访问令牌：请检查令牌（向操作员索取）后重新发送",
    "tablet_loading_step": "正在加载筛查模型：第 {done} 部分，共 {total} 部分",
    "retake_look_away": "请先把目光移开一会儿，再看向摄像头",
}

MESSAGES: dict[str, dict[str, str]] = {"en": EN, "zh-Hans": ZH_HANS}
ALIASES = {"zh": "zh-Hans", "zh-CN": "zh-Hans", "zh-SG": "zh-Hans", "en-GB": "en", "en-US": "en"}
LANGUAGES = tuple(MESSAGES)


def language(code: str) -> str:
    """The table name for ``code`` ("en", "zh-Hans", or an alias such as "zh-CN")."""
    lang = ALIASES.get(code, code)
    if lang not in MESSAGES:
        raise ValueError(f"no messages for language {code!r}; available: {', '.join(LANGUAGES)}")
    return lang


def message(key: str, lang: str = "en", **fields: object) -> str:
    """The sentence for ``key`` in ``lang``; an unknown key is an error, never a blank screen."""
    table = MESSAGES[language(lang)]
    if key not in table:
        raise KeyError(f"message {key!r} is missing from the {lang!r} table")
    text = table[key]
    return text.format(**fields) if fields else text
