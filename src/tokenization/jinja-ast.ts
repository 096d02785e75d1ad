/**
 * What kvedge needs to know about, and change in, a parsed chat template (@huggingface/jinja AST):
 *
 * - the variables it reads from its context (jinja2.meta.find_undeclared_variables), which vLLM
 *   uses to decide which `chat_template_kwargs` reach the template;
 * - whether it loops over message content parts (vLLM's "openai" content format) or treats
 *   content as a string;
 * - rewrites of Python string methods that @huggingface/jinja implements differently from
 *   Python (`strip(chars)` ignores `chars`), and of the transformers helpers (@huggingface/jinja
 *   predefines `raise_exception` and `strftime_now` with other semantics and refuses to let a
 *   render context replace them), so templates render as transformers renders them.
 *
 * The AST classes are not exported by @huggingface/jinja, so nodes are handled structurally by
 * their `type` tag; the parity fixtures in test/tokenization catch a change of shape.
 */

/** A parsed template node, seen structurally. */
interface Node {
  type: string;
  [field: string]: unknown;
}

/** Context-variable names under which the renderer installs the functions rewritten calls use. */
export const REWRITTEN_FUNCTIONS = {
  strip: '__kvedge_py_strip',
  lstrip: '__kvedge_py_lstrip',
  rstrip: '__kvedge_py_rstrip',
  raise_exception: '__kvedge_raise_exception',
  strftime_now: '__kvedge_strftime_now',
} as const;

const RENAMED_GLOBALS: ReadonlyMap<string, string> = new Map([
  ['raise_exception', REWRITTEN_FUNCTIONS.raise_exception],
  ['strftime_now', REWRITTEN_FUNCTIONS.strftime_now],
]);

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && typeof (value as Node).type === 'string';
}

function children(node: Node): Node[] {
  const out: Node[] = [];
  const visit = (value: unknown): void => {
    if (isNode(value)) out.push(value);
    else if (Array.isArray(value)) value.forEach(visit);
    else if (value instanceof Map) {
      for (const [k, v] of value) {
        visit(k);
        visit(v);
      }
    }
  };
  for (const [key, value] of Object.entries(node)) {
    // `operator` holds a lexer token ({type, value}), not an expression.
    if (key !== 'type' && key !== 'operator') visit(value);
  }
  return out;
}

function walk(node: Node, fn: (node: Node) => void): void {
  fn(node);
  for (const child of children(node)) walk(child, fn);
}

function identifierName(node: unknown): string | undefined {
  return isNode(node) && node.type === 'Identifier' ? (node.value as string) : undefined;
}

/** Names bound by an assignment or loop target (`x`, `a, b`). */
function targetNames(target: unknown): string[] {
  const name = identifierName(target);
  if (name !== undefined) return [name];
  if (isNode(target) && target.type === 'TupleLiteral')
    return (target.value as unknown[]).flatMap(targetNames);
  return [];
}

/**
 * Variables the template reads from its render context: every name it references minus the
 * names it binds itself (set, for, macro). Jinja tracks this per scope; a name that is both read
 * before being bound and bound somewhere is counted as bound here, which only matters for
 * templates that shadow a context variable.
 */
export function undeclaredVariables(program: Node): Set<string> {
  const referenced = new Set<string>();
  // Literals the parser leaves as identifiers, and names Jinja binds implicitly.
  const bound = new Set<string>([
    'true',
    'false',
    'none',
    'True',
    'False',
    'None',
    'loop',
    'caller',
    'varargs',
    'kwargs',
  ]);
  const visit = (node: Node): void => {
    switch (node.type) {
      case 'Identifier':
        referenced.add(node.value as string);
        return;
      case 'MemberExpression':
        visit(node.object as Node);
        if (node.computed) visit(node.property as Node);
        return;
      case 'KeywordArgumentExpression':
        visit(node.value as Node);
        return;
      case 'FilterExpression':
        visit(node.operand as Node);
        visitFilter(node.filter as Node);
        return;
      case 'FilterStatement':
        visitFilter(node.filter as Node);
        (node.body as Node[]).forEach(visit);
        return;
      case 'TestExpression':
        visit(node.operand as Node);
        return;
      case 'Set':
        for (const name of targetNames(node.assignee)) bound.add(name);
        if (isNode(node.assignee) && node.assignee.type === 'MemberExpression') visit(node.assignee);
        if (isNode(node.value)) visit(node.value);
        (node.body as Node[]).forEach(visit);
        return;
      case 'For':
        for (const name of targetNames(node.loopvar)) bound.add(name);
        visit(node.iterable as Node);
        (node.body as Node[]).forEach(visit);
        (node.defaultBlock as Node[]).forEach(visit);
        return;
      case 'Macro':
        bound.add(identifierName(node.name)!);
        for (const arg of node.args as Node[]) {
          if (arg.type === 'Identifier') bound.add(arg.value as string);
          else if (arg.type === 'KeywordArgumentExpression') {
            bound.add(identifierName(arg.key)!);
            visit(arg.value as Node);
          }
        }
        (node.body as Node[]).forEach(visit);
        return;
      default:
        children(node).forEach(visit);
    }
  };
  const visitFilter = (filter: Node): void => {
    // The filter's own name is not a variable; its call arguments are expressions.
    if (filter.type === 'CallExpression') (filter.args as Node[]).forEach(visit);
  };
  visit(program);
  for (const name of bound) referenced.delete(name);
  return referenced;
}

/** `name`, `name[...]`, `name | filter`, `name is test`, as vLLM's content-format probe accepts. */
function isVarOrElemsAccess(node: unknown, name: string, key?: string): boolean {
  if (!isNode(node)) return false;
  if (node.type === 'FilterExpression' || node.type === 'TestExpression') {
    return isVarOrElemsAccess(node.operand, name, key);
  }
  if (node.type === 'MemberExpression' && node.computed && isNode(node.property)) {
    if (node.property.type === 'SliceExpression') return isVarOrElemsAccess(node.object, name, key);
  }
  if (key === undefined) return identifierName(node) === name;
  if (node.type !== 'MemberExpression' || identifierName(node.object) !== name) return false;
  const property = node.property as Node;
  return node.computed
    ? property.type === 'StringLiteral' && property.value === key
    : identifierName(property) === key;
}

/**
 * vLLM's chat-template content-format detection: "openai" when the template iterates over a
 * message's content (`for part in message['content']` or `for part in content`), else "string".
 */
export function detectContentFormat(program: Node): 'string' | 'openai' {
  const messageVars = new Set<string>(['messages']);
  walk(program, (node) => {
    if (node.type === 'Set' && isVarOrElemsAccess(node.value, 'messages')) {
      for (const name of targetNames(node.assignee)) messageVars.add(name);
    }
  });
  const messageItemVars = new Set<string>();
  walk(program, (node) => {
    if (node.type !== 'For') return;
    if ([...messageVars].some((name) => isVarOrElemsAccess(node.iterable, name))) {
      for (const name of targetNames(node.loopvar)) messageItemVars.add(name);
    }
  });
  let openai = false;
  walk(program, (node) => {
    if (node.type !== 'For') return;
    if (identifierName(node.iterable) === 'content') openai = true;
    if ([...messageItemVars].some((name) => isVarOrElemsAccess(node.iterable, name, 'content')))
      openai = true;
  });
  return openai ? 'openai' : 'string';
}

/**
 * Rewrites `x.strip(...)`, `x.lstrip(...)`, `x.rstrip(...)` and the `trim` filter into calls of
 * Python-semantics functions, and references to `raise_exception` / `strftime_now` into their
 * replacements; the renderer provides all of them under the names in {@link REWRITTEN_FUNCTIONS}.
 * Mutates `program` in place.
 */
export function rewriteForTransformersSemantics(program: Node): void {
  const renameGlobals = (node: Node): void => {
    if (node.type === 'Identifier') {
      const renamed = RENAMED_GLOBALS.get(node.value as string);
      if (renamed !== undefined) node.value = renamed;
      return;
    }
    if (node.type === 'MemberExpression') {
      renameGlobals(node.object as Node);
      if (node.computed) renameGlobals(node.property as Node);
      return;
    }
    if (node.type === 'KeywordArgumentExpression') {
      renameGlobals(node.value as Node);
      return;
    }
    children(node).forEach(renameGlobals);
  };
  renameGlobals(program);
  walk(program, (node) => {
    if (node.type === 'CallExpression' && isNode(node.callee) && node.callee.type === 'MemberExpression') {
      const member = node.callee;
      const method = member.computed ? undefined : identifierName(member.property);
      if (method === 'strip' || method === 'lstrip' || method === 'rstrip') {
        const callee = member.property as Node;
        callee.value = REWRITTEN_FUNCTIONS[method];
        node.args = [member.object, ...(node.args as Node[])];
        node.callee = callee;
      }
      return;
    }
    if (node.type === 'FilterExpression' && isNode(node.filter)) {
      const filter = node.filter;
      const name = filter.type === 'CallExpression' ? identifierName(filter.callee) : identifierName(filter);
      if (name !== 'trim') return;
      const callee = (filter.type === 'CallExpression' ? filter.callee : filter) as Node;
      const args = filter.type === 'CallExpression' ? (filter.args as Node[]) : [];
      callee.value = REWRITTEN_FUNCTIONS.strip;
      node.type = 'CallExpression';
      node.callee = callee;
      node.args = [node.operand, ...args];
      delete node.operand;
      delete node.filter;
    }
  });
}
