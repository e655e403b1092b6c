"""The orjson provider behind the services' JSON responses."""

import json
from dataclasses import dataclass
from decimal import Decimal

from flask import Flask, jsonify

from common.json_provider import OrjsonProvider


@dataclass
class Point:
    x: int
    y: int


def make_app(debug: bool = False) -> Flask:
    app = Flask(__name__)
    app.debug = debug
    app.json = OrjsonProvider(app)
    return app


def test_response_compact_utf8_in_order():
    app = make_app()
    with app.app_context():
        response = jsonify({"b": 1, "a": "café ✓"})

    assert response.mimetype == "application/json"
    assert response.get_data() == '{"b":1,"a":"café ✓"}\n'.encode()


def test_response_debug_indented():
    app = make_app(debug=True)
    with app.app_context():
        response = jsonify({"a": [1]})

    assert response.get_data(as_text=True) == '{\n  "a": [\n    1\n  ]\n}\n'


def test_response_flask_types():
    app = make_app()
    with app.app_context():
        response = jsonify(point=Point(1, 2), price=Decimal("1.50"))

    assert json.loads(response.get_data()) == {
        "point": {"x": 1, "y": 2},
        "price": "1.50",
    }


def test_dumps_json_options_fallback():
    app = make_app()

    assert app.json.dumps({"b": 1, "a": 2}, indent=None, sort_keys=True) == (
        '{"a": 2, "b": 1}'
    )
    assert app.json.dumps({"b": 1, "a": 2}) == '{"b":1,"a":2}'
