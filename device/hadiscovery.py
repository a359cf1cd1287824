"""Home Assistant MQTT discovery: the retained config messages that make a board appear in
Home Assistant by itself (`ha_discovery`).

A module of its own (heap): device/mqttsend.py imports it only when MQTT_HA_DISCOVERY is
on, at the first announcement; no other board configuration loads it. device/payloads.py
re-exports it for the host.
"""

import json


def ha_discovery(device, topic="anomaly", prefix="homeassistant"):
    """(topic, JSON text) pairs that make a board appear in Home Assistant by itself: an
    anomaly binary sensor (from its events), a score and a status sensor (from its
    heartbeats). Publish them retained."""
    base = "%s/%s" % (topic, device)
    dev = {"identifiers": ["anomaly_" + device], "name": "Anomaly detector " + device,
           "manufacturer": "circuitpython-anomaly"}
    out = []
    for comp, key, name, state, tmpl, extra in (
            ("binary_sensor", "anomaly", "Anomaly", base + "/event",
             "{{ 'ON' if value_json.anomaly else 'OFF' }}", {"device_class": "problem"}),
            ("sensor", "score", "Score", base + "/heartbeat",
             "{{ value_json.score | default(0) }}", {"state_class": "measurement"}),
            ("sensor", "status", "Status", base + "/heartbeat",
             "{{ value_json.state }}", {})):
        cfg = {"name": name, "unique_id": "%s_%s" % (device, key), "state_topic": state,
               "value_template": tmpl, "device": dev}
        for k in extra:
            cfg[k] = extra[k]
        out.append(("%s/%s/%s_%s/config" % (prefix, comp, device, key), json.dumps(cfg)))
    return out
