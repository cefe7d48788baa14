"""Bail supervision (取保候审): cases, check-ins, locations, geofences, alerts."""
