/** @odoo-module **/
/**
 * A small line chart of [[date, value], ...] (a JSON text field): the instance's latency.
 */
import {Component} from "@odoo/owl";
import {registry} from "@web/core/registry";
import {standardFieldProps} from "@web/views/fields/standard_field_props";

const WIDTH = 240;
const HEIGHT = 40;

export class SparklineField extends Component {
    static template = "erplibre_devops.SparklineField";
    static props = {...standardFieldProps};

    get points() {
        try {
            return JSON.parse(this.props.record.data[this.props.name] || "[]");
        } catch {
            return [];
        }
    }

    get max() {
        return Math.max(1, ...this.points.map((point) => point[1]));
    }

    get polyline() {
        const points = this.points;
        if (points.length < 2) {
            return "";
        }
        const step = WIDTH / (points.length - 1);
        return points
            .map(([, value], index) => {
                const x = (index * step).toFixed(1);
                const y = (HEIGHT - 2 - (value / this.max) * (HEIGHT - 4)).toFixed(1);
                return `${x},${y}`;
            })
            .join(" ");
    }

    get last() {
        const points = this.points;
        return points.length ? points[points.length - 1][1] : null;
    }

    get width() {
        return WIDTH;
    }

    get height() {
        return HEIGHT;
    }
}

registry.category("fields").add("devops_sparkline", {
    component: SparklineField,
    supportedTypes: ["text"],
});
