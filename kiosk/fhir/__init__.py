"""Screening results into a health record as FHIR R4 (`facescreen-kiosk export --fhir`, `push`).

codes      every code and identifier system, and our own CodeSystem
resources  one screening -> Observation, ServiceRequest (per flag), Device, Provenance, Media (consent)
bundle     screenings -> one transaction Bundle of conditional writes (retries never duplicate)
outbox     which screenings a server has accepted; the rest stay queued
push       batches to a server, saying why a batch stayed queued
pull       a server's screenings and outcomes back, for the field report of every site
read       FHIR JSON from outside (files, servers), read typed
"""
