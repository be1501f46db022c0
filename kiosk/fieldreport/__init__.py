"""`facescreen-kiosk field-report`: the screener judged in the field, against its model card.

stats   per group (all, each site, each model version): referral completion, PPV among completed
        referrals, PPV predicted from validation at the field's prevalence, calibration, score drift
render  the report as Markdown + JSON + plots, alarms at the top
"""
