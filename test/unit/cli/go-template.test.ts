import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GoTemplate, TemplateError, type TemplateObject } from '../../../src/cli/go-template.js';

class Row implements TemplateObject {
  readonly goType = '*formatter.ContainerContext';
  ID(): string { return 'abc'; }
  Label(name: string): string { return ({ a: '1' } as Record<string, string>)[name] ?? ''; }
}

const data = {
  Name: '/web',
  Config: { Cmd: ['echo', 'hi'], Labels: { 'com.x': 'y' }, Env: null },
  State: { Running: true, ExitCode: 0, Pid: 42 },
  Args: ['a', 'b'],
  Empty: [],
};

const cases: Array<[string, unknown, string]> = [
  ['{{.Name}}', data, '/web'],
  ['{{.State.Pid}}', data, '42'],
  ['{{json .Config.Cmd}}', data, '["echo","hi"]'],
  ['{{json .}}', { A: 1 }, '{"A":1}'],
  ['{{index .Config.Labels "com.x"}}', data, 'y'],
  ['{{index .Config.Labels "nope"}}', data, ''],
  ['{{index .Args 1}}', data, 'b'],
  ['{{range .Args}}[{{.}}]{{end}}', data, '[a][b]'],
  ['{{range $i, $v := .Args}}{{$i}}={{$v}} {{end}}', data, '0=a 1=b '],
  ['{{range .Empty}}x{{else}}none{{end}}', data, 'none'],
  ['{{if .State.Running}}up{{else}}down{{end}}', data, 'up'],
  ['{{if not .State.Running}}up{{else if eq .State.ExitCode 0}}ok{{else}}bad{{end}}', data, 'ok'],
  ['{{join (split "a,b,c" ",") "-"}}', data, 'a-b-c'],
  ['{{upper .Name}} {{lower "AB"}}', data, '/WEB ab'],
  ['{{printf "%s:%d" .Name .State.Pid}}', data, '/web:42'],
  ['{{printf "%-5s|" "ab"}}', data, 'ab   |'],
  ['{{len .Args}}', data, '2'],
  ['{{.Name | printf "%q"}}', data, '"/web"'],
  ['{{.Config.Cmd}}', data, '[echo hi]'],
  ['{{.Config.Labels}}', data, 'map[com.x:y]'],
  ['{{.Config.Env}}', data, '<nil>'],
  ['{{.Missing}}', data, '<no value>'],
  ['{{with .State}}{{.Pid}}{{end}}', data, '42'],
  ['{{$n := .Name}}{{$n}}', data, '/web'],
  ['a {{- " b " -}} c', data, 'a b c'],
  ['{{/* comment */}}x', data, 'x'],
  ['{{.ID}} {{.Label "a"}}', new Row(), 'abc 1'],
  ['{{(index .Args 0) | upper}}', data, 'A'],
  ['{{truncate .Name 2}}{{pad "x" 1 1}}', data, '/w x '],
  ['{{title "hello world"}}', data, 'Hello World'],
];

for (const [src, input, want] of cases) {
  test(`template ${src}`, () => {
    assert.equal(new GoTemplate(src).execute(input), want);
  });
}

test('unknown field on a struct-like object names its Go type', () => {
  assert.throws(() => new GoTemplate('{{.Nope}}').execute(new Row()), (err: unknown) => {
    assert.ok(err instanceof TemplateError);
    assert.equal(err.message, 'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.ContainerContext');
    return true;
  });
});

test('missingkey=error reports the map key, at the chained field position', () => {
  assert.throws(() => new GoTemplate('{{.Config.Nope.X}}').execute(data, { missingKey: 'error' }),
    { message: 'template: :1:9: executing "" at <.Config.Nope.X>: map has no entry for key "Nope"' });
});

test('join of a decoded JSON array is a type error like Go', () => {
  assert.throws(() => new GoTemplate('{{join .Args ","}}').execute(data),
    { message: 'template: :1:7: executing "" at <.Args>: wrong type for value; expected []string; got []interface {}' });
});

test('parse errors', () => {
  assert.throws(() => new GoTemplate('{{.Name'), { message: 'template: :1: unclosed action' });
  assert.throws(() => new GoTemplate('{{nope .X}}'), { message: 'template: :1: function "nope" not defined' });
  assert.throws(() => new GoTemplate('{{if .X}}a'), { message: 'template: :1: unexpected EOF' });
  assert.throws(() => new GoTemplate('{{end}}'), { message: 'template: :1: unexpected {{end}}' });
});
