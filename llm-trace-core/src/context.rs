//! Call context: which annotated function (and which of its callers) an LLM call is made in.
//!
//! `#[traced_llm]` enters a [`Scope`] around a function body. Scopes form a per-thread stack;
//! a call recorder asks for the [`CallContext`] of the innermost scope, which carries the
//! function name, the call path of enclosing annotated functions, the union of their tags,
//! their metadata and an optional session override.
//!
//! Entering a [`StaticScope`] (what `#[traced_llm]` uses unless it has metadata or a session)
//! writes its address into a thread-local array and bumps a depth; leaving puts the depth back.
//! No allocation, no lock, no destructor to register, and nothing moved into or out of a
//! future. A [`Scope`] built at run time keeps its data in one allocation, in a second stack
//! for entries that own data. The full [`CallContext`] is only built when a call is actually
//! recorded, then kept with the entry so that every further call in the same entry shares it;
//! an outermost static scope builds it once for the whole program.
//!
//! Async bodies are wrapped in [`WithContext`], which pushes its scope for the duration of
//! every `poll` and of its drop, as `tracing::Instrumented` does. So the context survives
//! `.await` on any executor, and two tasks interleaved on one thread never see each other's.
//! A task spawned onto an executor does not inherit the spawner's context unless it is carried
//! over with [`LlmContextExt::with_llm_context`] (or [`spawn_thread`] for threads); without it,
//! calls in the task see only the scopes entered inside the task (or none: `"unknown"`).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll};

use crate::trace::{Metadata, Name};

/// The function name recorded for calls made outside any annotated function.
pub const UNKNOWN: &str = "unknown";

/// What an LLM call knows about where it was made.
///
/// ```
/// use llm_trace_core::context::{CallContext, Scope};
///
/// assert!(CallContext::current().is_none());
/// Scope::new("handle_ticket", module_path!(), &["support"]).in_scope(|| {
///     Scope::new("classify", module_path!(), &["classification", "support"]).in_scope(|| {
///         let ctx = CallContext::current().unwrap();
///         assert_eq!(ctx.function_name(), "classify");
///         assert_eq!(ctx.call_path(), ["handle_ticket", "classify"]);
///         assert_eq!(ctx.tags(), ["support", "classification"]);
///     })
/// });
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CallContext {
    pub(crate) function_name: Name,
    pub(crate) module_path: Name,
    pub(crate) call_path: Arc<[Name]>,
    pub(crate) tags: Arc<[Name]>,
    pub(crate) metadata: Metadata,
    pub(crate) session: Option<Arc<str>>,
}

impl CallContext {
    /// The context of the innermost scope entered on this thread, if any.
    pub fn current() -> Option<Arc<CallContext>> {
        with_innermost(|context| context.cloned())
    }

    /// Runs `f` with the context of the innermost scope, borrowed (no reference counting).
    /// `f` must not enter or leave scopes.
    pub(crate) fn with_current<R>(f: impl FnOnce(Option<&CallContext>) -> R) -> R {
        with_innermost(|context| f(context.map(|context| &**context)))
    }

    /// The innermost annotated function.
    pub fn function_name(&self) -> &str {
        &self.function_name
    }

    /// The module of the innermost annotated function.
    pub fn module_path(&self) -> &str {
        &self.module_path
    }

    /// The enclosing annotated functions, outermost first.
    pub fn call_path(&self) -> &[Name] {
        &self.call_path
    }

    /// The union of the enclosing scopes' tags, in order of first appearance.
    pub fn tags(&self) -> &[Name] {
        &self.tags
    }

    /// The enclosing scopes' metadata, inner scopes winning on equal keys.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The session set by the innermost scope that set one.
    pub fn session(&self) -> Option<&Arc<str>> {
        self.session.as_ref()
    }

    fn child_of(parent: Option<&CallContext>, scope: ScopeView<'_>) -> CallContext {
        let name = scope.name.clone();
        let (call_path, tags, metadata, session) = match parent {
            None => (
                Arc::from([name.clone()]),
                union_tags(&[], scope.tags),
                scope.metadata.clone(),
                scope.session.cloned(),
            ),
            Some(parent) => {
                let mut path = Vec::with_capacity(parent.call_path.len() + 1);
                path.extend(parent.call_path.iter().cloned());
                path.push(name.clone());
                let tags = if scope.tags.iter().all(|t| parent.tags.iter().any(|p| p == t)) {
                    parent.tags.clone()
                } else {
                    union_tags(&parent.tags, scope.tags)
                };
                (
                    Arc::from(path),
                    tags,
                    parent.metadata.merged(scope.metadata),
                    scope.session.or(parent.session.as_ref()).cloned(),
                )
            }
        };
        CallContext {
            function_name: name,
            module_path: scope.module_path.clone(),
            call_path,
            tags,
            metadata,
            session,
        }
    }
}

/// What building a context needs of a scope, static or not.
struct ScopeView<'a> {
    name: &'a Name,
    module_path: &'a Name,
    tags: &'static [&'static str],
    metadata: &'a Metadata,
    session: Option<&'a Arc<str>>,
}

/// The metadata of a scope that has none (a `static`, so a view can borrow it).
static NO_METADATA: Metadata = Metadata::EMPTY;

fn union_tags(outer: &[Name], inner: &[&'static str]) -> Arc<[Name]> {
    let mut tags: Vec<Name> = outer.to_vec();
    for tag in inner {
        if !tags.iter().any(|t| t == tag) {
            tags.push(Name::Borrowed(tag));
        }
    }
    Arc::from(tags)
}

/// One annotated function call (or any other region of code) whose LLM calls should carry a
/// name, tags and metadata. `#[traced_llm]` builds one of these; you rarely need to.
///
/// ```
/// use llm_trace_core::context::{CallContext, Scope};
///
/// let scope = Scope::new("nightly_batch", module_path!(), &["batch"])
///     .with_metadata("run", 42)
///     .with_session("nightly-2026-11-26");
/// scope.in_scope(|| {
///     let ctx = CallContext::current().unwrap();
///     assert_eq!(ctx.session().map(|s| &**s), Some("nightly-2026-11-26"));
///     assert_eq!(ctx.metadata().get("run"), Some(&serde_json::json!(42)));
/// });
/// ```
#[derive(Debug, Clone)]
#[must_use = "a scope does nothing until it is entered"]
pub struct Scope {
    frame: Frame,
}

/// An entry of the per-thread stack kept in [`Slow`], or what a future keeps of its scope
/// between polls. A static scope with nothing built for it needs no frame on the stack: its
/// address goes in a slot of [`Fast`] (unless the stack is deeper than [`FAST_DEPTH`]).
#[derive(Debug, Clone)]
enum Frame {
    /// A [`StaticScope`] with nothing built for this entry.
    Static(&'static StaticScope),
    /// A [`StaticScope`] with the context built for this entry (not the outermost). Boxed so
    /// that a frame, which a future carries between polls, stays two words.
    StaticBuilt(Box<StaticBuilt>),
    Scope(Box<ScopeData>),
    /// A context carried over from another thread or task.
    Captured(Arc<CallContext>),
}

#[derive(Debug, Clone)]
struct StaticBuilt {
    scope: &'static StaticScope,
    context: Arc<CallContext>,
}

#[derive(Debug, Clone)]
struct ScopeData {
    name: Name,
    module_path: Name,
    tags: &'static [&'static str],
    metadata: Metadata,
    session: Option<Arc<str>>,
    /// The context built the first time a call was recorded in this scope.
    cached: Option<Arc<CallContext>>,
}

impl ScopeData {
    /// The scope's view and its cache, borrowed apart.
    fn view_and_cache(&mut self) -> (ScopeView<'_>, &mut Option<Arc<CallContext>>) {
        let view = ScopeView {
            name: &self.name,
            module_path: &self.module_path,
            tags: self.tags,
            metadata: &self.metadata,
            session: self.session.as_ref(),
        };
        (view, &mut self.cached)
    }
}

impl Scope {
    /// A scope for the function `name` in `module_path` with `tags`.
    pub fn new(
        name: impl Into<Name>,
        module_path: impl Into<Name>,
        tags: &'static [&'static str],
    ) -> Scope {
        Scope {
            frame: Frame::Scope(Box::new(ScopeData {
                name: name.into(),
                module_path: module_path.into(),
                tags,
                metadata: Metadata::default(),
                session: None,
                cached: None,
            })),
        }
    }

    /// A scope that re-enters a context captured elsewhere (see [`CallContext::current`]).
    pub fn from_context(context: Arc<CallContext>) -> Scope {
        Scope { frame: Frame::Captured(context) }
    }

    /// The same scope with one more metadata entry (any serializable value).
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl serde::Serialize) -> Scope {
        if let Frame::Scope(data) = &mut self.frame {
            data.metadata.insert(key, value);
        }
        self
    }

    /// The same scope, overriding the session id of every call inside it.
    pub fn with_session(mut self, session: impl AsRef<str>) -> Scope {
        if let Frame::Scope(data) = &mut self.frame {
            data.session = Some(Arc::from(session.as_ref()));
        }
        self
    }

    /// Enters the scope on this thread until the guard is dropped. For synchronous code only:
    /// across an `.await` use [`Scope::instrument`] instead.
    pub fn enter(self) -> ScopeGuard {
        let depth = push_slow(self.frame);
        ScopeGuard { depth, _not_send: PhantomData }
    }

    /// [`enter`](Self::enter), under the name `#[traced_llm]` uses for static and runtime
    /// scopes alike (see [`StaticScope::enter_in_fn`]). Not a public API.
    #[doc(hidden)]
    pub fn enter_in_fn(self) -> ScopeGuard {
        self.enter()
    }

    /// Runs `f` inside the scope.
    pub fn in_scope<R>(self, f: impl FnOnce() -> R) -> R {
        let _guard = self.enter();
        f()
    }

    /// Wraps a future so that it runs inside the scope on every poll and on drop.
    pub fn instrument<F: Future>(self, future: F) -> WithContext<F> {
        WithContext { frame: ManuallyDrop::new(Some(self.frame)), inner: Some(future) }
    }
}

/// A scope whose name, module and tags are known at compile time. `#[traced_llm]` without
/// `metadata` or `session` puts one in a `static` inside each annotated function: entering it
/// then writes one word onto the per-thread stack and builds nothing, and the context of calls
/// made in it (when it is the outermost scope) is built once for the program's lifetime rather
/// than once per entry.
///
/// ```
/// use llm_trace_core::context::{CallContext, StaticScope};
///
/// static NIGHTLY: StaticScope = StaticScope::new("nightly_batch", module_path!(), &["batch"]);
///
/// let _guard = NIGHTLY.enter();
/// let ctx = CallContext::current().unwrap();
/// assert_eq!(ctx.function_name(), "nightly_batch");
/// assert_eq!(ctx.tags(), ["batch"]);
/// ```
#[derive(Debug)]
pub struct StaticScope {
    name: Name,
    module_path: Name,
    tags: &'static [&'static str],
    /// The context of calls made while this is the only scope entered.
    root: OnceLock<Arc<CallContext>>,
}

impl StaticScope {
    /// A scope for the function `name` in `module_path` with `tags`, for a `static`.
    pub const fn new(
        name: &'static str,
        module_path: &'static str,
        tags: &'static [&'static str],
    ) -> StaticScope {
        StaticScope {
            name: Name::Borrowed(name),
            module_path: Name::Borrowed(module_path),
            tags,
            root: OnceLock::new(),
        }
    }

    /// Enters the scope on this thread until the guard is dropped (see [`Scope::enter`]).
    #[inline]
    pub fn enter(&'static self) -> ScopeGuard {
        let depth = push_static(self);
        ScopeGuard { depth, _not_send: PhantomData }
    }

    /// Enters the scope for the body of a sync fn: what `#[traced_llm]` uses. Not a public
    /// API; see [`FnGuard`].
    #[doc(hidden)]
    #[inline]
    pub fn enter_in_fn(&'static self) -> FnGuard {
        let depth = push_static(self);
        FnGuard { depth, _not_send: PhantomData }
    }

    /// Runs `f` inside the scope.
    pub fn in_scope<R>(&'static self, f: impl FnOnce() -> R) -> R {
        let _guard = self.enter();
        f()
    }

    /// Wraps a future so that it runs inside the scope on every poll and on drop (see
    /// [`Scope::instrument`]).
    pub fn instrument<F: Future>(&'static self, future: F) -> WithContext<F> {
        WithContext { frame: ManuallyDrop::new(Some(Frame::Static(self))), inner: Some(future) }
    }

    fn view(&self) -> ScopeView<'_> {
        ScopeView {
            name: &self.name,
            module_path: &self.module_path,
            tags: self.tags,
            metadata: &NO_METADATA,
            session: None,
        }
    }

    fn root_context(&self) -> &Arc<CallContext> {
        self.root.get_or_init(|| Arc::new(CallContext::child_of(None, self.view())))
    }
}

/// How deep the per-thread stack keeps static scopes in place (in [`Fast`]); frames deeper
/// than this, and frames that own data, live in [`Slow`].
const FAST_DEPTH: usize = 32;

/// The part of the per-thread stack that entering and leaving a static scope touch: a depth
/// and one word per entry. `Copy` cells and no destructor, so the thread-local needs no
/// initialization or destructor check: entering is a load, a bounds check and two stores;
/// leaving two loads, two compares and a store.
struct Fast {
    len: Cell<usize>,
    /// `Some(scope)`: a static scope entered at this depth, no context built for it yet.
    /// `None`: the entry at this depth is in [`Slow`].
    slots: [Cell<Option<&'static StaticScope>>; FAST_DEPTH],
}

impl Fast {
    /// The static scope entered at `depth` and still held in place, if that is the case.
    #[inline]
    fn slot(&self, depth: usize) -> Option<&'static StaticScope> {
        self.slots.get(depth).and_then(Cell::get)
    }
}

/// The entries that own data: runtime scopes, captured contexts, static scopes with the
/// context built for them (moved here when a call is first recorded in them), and any entry
/// deeper than [`FAST_DEPTH`]. Each is stored with its depth, shallowest first, at most one
/// per depth; there is one for every depth below `Fast::len` whose slot is `None` or past the
/// slots. Any other (at a depth whose slot holds a scope, or at `Fast::len` or deeper) is a
/// leftover of an entry a [`FnGuard`] left without looking here: ignored, and dropped when
/// its depth is entered again.
struct Slow {
    frames: Vec<(usize, Frame)>,
}

impl Slow {
    fn index_of(&self, depth: usize) -> Option<usize> {
        self.frames.iter().rposition(|(d, _)| *d == depth)
    }
}

thread_local! {
    static FAST: Fast = const {
        Fast { len: Cell::new(0), slots: [const { Cell::new(None) }; FAST_DEPTH] }
    };
    static SLOW: RefCell<Slow> = const { RefCell::new(Slow { frames: Vec::new() }) };
}

/// Enters a static scope, returning the depth to restore.
#[inline]
fn push_static(scope: &'static StaticScope) -> usize {
    FAST.with(|fast| {
        let depth = fast.len.get();
        match fast.slots.get(depth) {
            Some(slot) => {
                slot.set(Some(scope));
                fast.len.set(depth + 1);
                depth
            }
            None => push_slow(Frame::Static(scope)),
        }
    })
}

/// Enters a frame kept in [`Slow`], returning the depth to restore (the depth as it was, with
/// nothing entered, if the thread is exiting and its stack is gone). Out of line, so that the
/// static path it is the fallback of stays small where it is inlined.
#[inline(never)]
fn push_slow(frame: Frame) -> usize {
    FAST.with(|fast| {
        let depth = fast.len.get();
        let pushed = SLOW.try_with(|slow| {
            let mut slow = slow.borrow_mut();
            // Frames at this depth or deeper are left over from entries that have ended
            // (see `FnGuard`).
            let current = slow.frames.partition_point(|(d, _)| *d < depth);
            slow.frames.truncate(current);
            slow.frames.push((depth, frame));
        });
        if pushed.is_err() {
            return depth;
        }
        if let Some(slot) = fast.slots.get(depth) {
            slot.set(None);
        }
        fast.len.set(depth + 1);
        depth
    })
}

/// Leaves the entry at `depth` if it is the usual one, the innermost entry and a static scope
/// held in place, by restoring the depth: whether it was. Otherwise [`pop_to_slow`] is what
/// leaves it.
#[inline(always)]
fn leave_fast(fast: &Fast, depth: usize) -> bool {
    let usual = fast.len.get() == depth + 1 && fast.slot(depth).is_some();
    if usual {
        fast.len.set(depth);
    }
    usual
}

/// Restores the stack to `depth` entries, returning the frame that was at `depth` if it was
/// kept in [`Slow`] (so a future gets back the context it cached there).
#[inline(never)]
fn pop_to_slow(fast: &Fast, depth: usize) -> Option<Frame> {
    if depth >= fast.len.get() {
        return None;
    }
    fast.len.set(depth);
    // A frame in `Slow` at `depth` is this entry's only if the entry is not held in place (a
    // static scope held in place may find a leftover there, see `FnGuard`).
    let kept_in_slow = fast.slot(depth).is_none();
    SLOW.try_with(|slow| {
        let mut slow = slow.borrow_mut();
        let from = slow.frames.partition_point(|(d, _)| *d < depth);
        let mut removed = slow.frames.drain(from..);
        match removed.next() {
            Some((d, frame)) if d == depth && kept_in_slow => Some(frame),
            _ => None,
        }
    })
    .ok()
    .flatten()
}

/// Runs `f` with the innermost context, built (and kept in its entry) if no call was recorded
/// in that entry yet.
fn with_innermost<R>(f: impl FnOnce(Option<&Arc<CallContext>>) -> R) -> R {
    FAST.with(|fast| {
        let len = fast.len.get();
        if len == 0 {
            return f(None);
        }
        if len == 1 {
            if let Some(scope) = fast.slot(0) {
                // Outermost static scope: built once for the program, no `Slow` access.
                return f(Some(scope.root_context()));
            }
        }
        let mut f = Some(f);
        let result = SLOW.try_with(|slow| {
            let mut slow = slow.borrow_mut();
            f.take().expect("called once")(context_at(fast, &mut slow, len - 1))
        });
        match result {
            Ok(r) => r,
            // The thread is exiting: no context.
            Err(_) => f.take().expect("not called yet")(None),
        }
    })
}

/// The context of the entry at `depth`, built on first use and kept in the entry (a static
/// scope held in place moves to `slow` to keep it).
fn context_at<'s>(fast: &Fast, slow: &'s mut Slow, depth: usize) -> Option<&'s Arc<CallContext>> {
    if let Some(scope) = fast.slot(depth) {
        if depth == 0 {
            return Some(scope.root_context());
        }
        let at = slow.frames.partition_point(|(d, _)| *d < depth);
        match slow.frames.get_mut(at) {
            // A leftover of an ended entry at this depth (see `FnGuard`): replaced.
            Some(leftover) if leftover.0 == depth => *leftover = (depth, Frame::Static(scope)),
            _ => slow.frames.insert(at, (depth, Frame::Static(scope))),
        }
        fast.slots[depth].set(None);
    }
    let mut at = slow.index_of(depth)?;
    if let (0, Some(scope)) = (depth, slow.frames[at].1.static_scope()) {
        // Outermost: the context is the same on every entry, on every thread.
        return Some(scope.root_context());
    }
    if slow.frames[at].1.context().is_none() {
        let parent = match depth {
            0 => None,
            _ => context_at(fast, slow, depth - 1).cloned(),
        };
        // Building the parent's context may have moved an entry below this one into `slow`.
        at = slow.index_of(depth)?;
        slow.frames[at].1.build_context(parent.as_deref());
    }
    slow.frames[at].1.context()
}

impl Frame {
    /// The context built for this entry (or captured), if any yet.
    fn context(&self) -> Option<&Arc<CallContext>> {
        match self {
            Frame::Static(_) => None,
            Frame::StaticBuilt(built) => Some(&built.context),
            Frame::Scope(data) => data.cached.as_ref(),
            Frame::Captured(context) => Some(context),
        }
    }

    /// The static scope entered, if this entry is one.
    fn static_scope(&self) -> Option<&'static StaticScope> {
        match self {
            Frame::Static(scope) => Some(scope),
            Frame::StaticBuilt(built) => Some(built.scope),
            Frame::Scope(_) | Frame::Captured(_) => None,
        }
    }

    /// Builds and keeps this entry's context inside `parent`.
    fn build_context(&mut self, parent: Option<&CallContext>) {
        match self {
            Frame::Static(scope) => {
                let scope: &'static StaticScope = scope;
                let context = Arc::new(CallContext::child_of(parent, scope.view()));
                *self = Frame::StaticBuilt(Box::new(StaticBuilt { scope, context }));
            }
            Frame::StaticBuilt(_) => {}
            Frame::Scope(data) => {
                let (view, cached) = data.view_and_cache();
                *cached = Some(Arc::new(CallContext::child_of(parent, view)));
            }
            Frame::Captured(_) => {}
        }
    }
}

/// Leaves the scope when dropped, also when unwinding from a panic, so no stale context is
/// left on the thread. Not `Send`: it belongs to the thread that entered the scope.
#[derive(Debug)]
#[must_use = "the scope is left when the guard is dropped"]
pub struct ScopeGuard {
    depth: usize,
    _not_send: PhantomData<*const ()>,
}

impl Drop for ScopeGuard {
    // Always inlined, even where many annotated fns use it: out of line, leaving a scope
    // costs a call and the register saves around it, a third of the macro's cost.
    #[inline(always)]
    fn drop(&mut self) {
        FAST.with(|fast| {
            if !leave_fast(fast, self.depth) {
                leave_slow(fast, self.depth);
            }
        })
    }
}

/// What `#[traced_llm]` holds while a sync fn with a [`StaticScope`] runs: leaving the scope
/// is one store, the depth put back. Not a public API (made by [`StaticScope::enter_in_fn`]
/// for the code the macro generates): it is only correct for an entry left in order, which a
/// guard the macro declares and nothing else can name always is (on return, `?` and
/// unwinding). Left out of order, it would mislabel calls, nothing worse.
///
/// Whatever the entry left in [`Slow`] (a context built for it or for scopes entered inside,
/// frames of inner guards that were leaked) stays there as a leftover that readers ignore
/// and the next entry at that depth drops: looking for it would cost every annotated fn what
/// only the fns that record a call need.
#[doc(hidden)]
#[derive(Debug)]
#[must_use = "the scope is left when the guard is dropped"]
pub struct FnGuard {
    depth: usize,
    _not_send: PhantomData<*const ()>,
}

impl Drop for FnGuard {
    #[inline(always)]
    fn drop(&mut self) {
        FAST.with(|fast| fast.len.set(self.depth));
    }
}

/// What [`ScopeGuard`] does when the entry it leaves is not the usual one (kept in `Slow`,
/// or not the innermost because a guard was leaked): [`pop_to_slow`], then the frame's drop.
#[cold]
#[inline(never)]
fn leave_slow(fast: &Fast, depth: usize) {
    drop(pop_to_slow(fast, depth));
}

pin_project_lite::pin_project! {
    /// A future that runs inside a scope on every poll and on drop. Made by
    /// [`Scope::instrument`] and [`LlmContextExt::with_llm_context`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct WithContext<F> {
        // Dropped by hand, in `PinnedDrop`: the usual frame (a static scope with nothing built)
        // needs no drop code, which the compiler's drop code for the field would not know.
        frame: ManuallyDrop<Option<Frame>>,
        // Wrapped in an `Option` so that drop can destroy the future inside the scope.
        #[pin]
        inner: Option<F>,
    }

    impl<F> PinnedDrop for WithContext<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // The usual case, a finished future in a static scope, is two compares (inlined
            // where the future is dropped); the rest is kept out of line.
            if this.inner.as_ref().as_pin_ref().is_some() {
                drop_inside(this.frame, this.inner);
            }
            if !matches!(**this.frame, None | Some(Frame::Static(_))) {
                drop_frame(this.frame);
            }
        }
    }
}

/// Drops an unfinished future inside its scope.
#[cold]
#[inline(never)]
fn drop_inside<F>(frame: &mut Option<Frame>, mut inner: Pin<&mut Option<F>>) {
    let entered = Entered::new(frame);
    inner.set(None);
    drop(entered);
}

/// Drops a future's frame that owns data (a runtime scope, a captured or built context).
#[cold]
#[inline(never)]
fn drop_frame(frame: &mut Option<Frame>) {
    drop(frame.take());
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            panic!("`WithContext` polled after completion");
        };
        let entered = Entered::new(this.frame);
        let output = inner.poll(cx);
        if output.is_ready() {
            // Drop the finished future now, inside the scope, rather than later outside it.
            this.inner.set(None);
        }
        drop(entered);
        output
    }
}

/// A future's frame entered for one poll (or its drop). Leaves it when dropped, also when the
/// poll panics, and gives the future back whatever context its entry built meanwhile.
struct Entered<'a> {
    depth: Option<usize>,
    frame: &'a mut Option<Frame>,
}

impl<'a> Entered<'a> {
    #[inline]
    fn new(frame: &'a mut Option<Frame>) -> Entered<'a> {
        let depth = match frame {
            None => None,
            // A static scope with nothing built: entered by copying its address, and the
            // future keeps its frame.
            Some(Frame::Static(scope)) => Some(push_static(scope)),
            Some(_) => frame.take().map(push_slow),
        };
        Entered { depth, frame }
    }
}

impl Drop for Entered<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(depth) = self.depth {
            FAST.with(|fast| {
                if !leave_fast(fast, depth) {
                    leave_and_give_back(fast, depth, self.frame);
                }
            })
        }
    }
}

/// What [`Entered`] does when the entry it leaves is not the usual one: [`pop_to_slow`], and
/// the frame found there back to the future (with any context built meanwhile).
#[cold]
#[inline(never)]
fn leave_and_give_back(fast: &Fast, depth: usize, slot: &mut Option<Frame>) {
    if let Some(frame) = pop_to_slow(fast, depth) {
        *slot = Some(frame);
    }
}

/// The [`StaticScope`] of one async fn, as a type: `#[traced_llm]` declares a unit struct
/// implementing it in each annotated async fn, so that [`InFn`] needs no field to know its
/// scope. Not a public API.
#[doc(hidden)]
pub trait FnScope {
    /// The scope.
    fn scope() -> &'static StaticScope;
}

pin_project_lite::pin_project! {
    /// What `#[traced_llm]` wraps an async fn's body in when its scope is a [`StaticScope`]
    /// (named by `S`): [`WithContext`] cut down to that case, and no bigger than the body's
    /// own future. Not a public API.
    ///
    /// A poll enters the scope and leaves it as [`FnGuard`] does, putting the depth back:
    /// what the poll left in [`Slow`] is a leftover, a context built for the entry included
    /// (the next poll that records a call builds it again). Drop enters the scope for the
    /// body's drop, finished or not (it has nothing left to drop once finished), and the
    /// field after the body leaves it, having no room for the depth: by taking one entry off,
    /// which is the same unless the body's drop leaked a guard (then an entry is left above,
    /// until the next fn or scope around it ends, as for a leaked [`ScopeGuard`]) or the
    /// entry could not be made (more than 32 deep on a thread whose stack is being torn
    /// down): a mislabelled call at worst, as for [`FnGuard`].
    #[doc(hidden)]
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct InFn<S: FnScope, F> {
        #[pin]
        inner: F,
        // Dropped after `inner`, which is dropped inside the scope.
        leave: LeaveAfterDrop,
        scope: PhantomData<S>,
    }

    impl<S: FnScope, F> PinnedDrop for InFn<S, F> {
        fn drop(_this: Pin<&mut Self>) {
            push_static(S::scope());
        }
    }
}

impl<S: FnScope, F: Future> InFn<S, F> {
    /// Wraps the body of the async fn whose scope `S` is.
    #[inline]
    pub fn new(inner: F) -> InFn<S, F> {
        InFn { inner, leave: LeaveAfterDrop, scope: PhantomData }
    }
}

impl<S: FnScope, F: Future> Future for InFn<S, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let _entered = S::scope().enter_in_fn();
        self.project().inner.poll(cx)
    }
}

/// The last field of [`InFn`]: leaves the scope its drop entered for the body's. Not a
/// public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct LeaveAfterDrop;

impl Drop for LeaveAfterDrop {
    #[inline]
    fn drop(&mut self) {
        FAST.with(|fast| fast.len.set(fast.len.get().saturating_sub(1)));
    }
}

/// Carries the current call context into futures run elsewhere.
///
/// ```
/// use llm_trace_core::context::{CallContext, LlmContextExt, Scope};
///
/// let task = Scope::new("outer", module_path!(), &[]).in_scope(|| {
///     // Built here, run later (on another thread, or by an executor after the scope ended).
///     async { CallContext::current().map(|c| c.function_name().to_owned()) }.with_llm_context()
/// });
/// let name = futures_lite_block_on(task);
/// assert_eq!(name.as_deref(), Some("outer"));
/// # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let waker = std::task::Waker::noop();
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// ```
pub trait LlmContextExt: Future + Sized {
    /// Wraps the future so that it runs in the context current now (if any).
    fn with_llm_context(self) -> WithContext<Self> {
        let frame = CallContext::current().map(Frame::Captured);
        WithContext { frame: ManuallyDrop::new(frame), inner: Some(self) }
    }
}

impl<F: Future> LlmContextExt for F {}

/// Spawns a thread that runs `f` in the current call context.
///
/// ```
/// use llm_trace_core::context::{spawn_thread, CallContext, Scope};
///
/// let handle = Scope::new("fan_out", module_path!(), &[]).in_scope(|| {
///     spawn_thread(|| CallContext::current().unwrap().function_name().to_owned())
/// });
/// assert_eq!(handle.join().unwrap(), "fan_out");
/// ```
pub fn spawn_thread<F, T>(f: F) -> std::thread::JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let context = CallContext::current();
    std::thread::spawn(move || match context {
        Some(context) => Scope::from_context(context).in_scope(f),
        None => f(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn block_on<F: Future>(future: F) -> F::Output {
        let mut cx = TaskContext::from_waker(Waker::noop());
        let mut future = std::pin::pin!(future);
        loop {
            if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    fn current_name() -> Option<String> {
        CallContext::current().map(|c| c.function_name().to_owned())
    }

    /// Pending once, then ready: forces a context switch between interleaved futures.
    struct YieldOnce(bool);
    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
            if self.0 {
                Poll::Ready(())
            } else {
                self.0 = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    #[test]
    fn no_scope_means_no_context() {
        assert!(CallContext::current().is_none());
    }

    #[test]
    fn nested_scopes_build_path_tags_metadata_and_session() {
        Scope::new("a", "m", &["x", "y"])
            .with_metadata("k", 1)
            .with_metadata("outer", true)
            .in_scope(|| {
                Scope::new("b", "m2", &["y", "z"])
                    .with_metadata("k", 2)
                    .with_session("s9")
                    .in_scope(|| {
                        let ctx = CallContext::current().unwrap();
                        assert_eq!(ctx.function_name(), "b");
                        assert_eq!(ctx.module_path(), "m2");
                        assert_eq!(ctx.call_path(), ["a", "b"]);
                        assert_eq!(ctx.tags(), ["x", "y", "z"]);
                        assert_eq!(ctx.metadata().get("k"), Some(&serde_json::json!(2)));
                        assert_eq!(ctx.metadata().get("outer"), Some(&serde_json::json!(true)));
                        assert_eq!(ctx.session().map(|s| &**s), Some("s9"));
                    });
                assert_eq!(current_name().as_deref(), Some("a"));
            });
        assert!(CallContext::current().is_none());
    }

    #[test]
    fn the_context_is_built_once_per_scope() {
        Scope::new("a", "m", &[]).in_scope(|| {
            let first = CallContext::current().unwrap();
            let second = CallContext::current().unwrap();
            assert!(Arc::ptr_eq(&first, &second));
        });
    }

    #[test]
    fn an_outermost_static_scope_builds_its_context_once_for_every_entry_and_thread() {
        static ROOT: StaticScope = StaticScope::new("root", "m", &["r"]);
        let first = ROOT.in_scope(|| CallContext::current().unwrap());
        let second = ROOT.in_scope(|| CallContext::current().unwrap());
        let elsewhere = std::thread::spawn(|| ROOT.in_scope(|| CallContext::current().unwrap()));
        assert!(Arc::ptr_eq(&first, &second));
        assert!(Arc::ptr_eq(&first, &elsewhere.join().unwrap()));
        assert_eq!((first.function_name(), first.module_path()), ("root", "m"));
        assert_eq!(first.call_path(), ["root"]);
        assert_eq!(first.tags(), ["r"]);
        assert!(first.metadata().is_empty() && first.session().is_none());
        assert!(CallContext::current().is_none());
    }

    #[test]
    fn a_nested_static_scope_builds_on_its_parents_once_per_entry() {
        static LEAF: StaticScope = StaticScope::new("leaf", "m", &["l", "shared"]);
        let in_parent = |session: &str| {
            Scope::new("parent", "m", &["shared"])
                .with_metadata("k", 1)
                .with_session(session)
                .in_scope(|| {
                    LEAF.in_scope(|| {
                        let ctx = CallContext::current().unwrap();
                        assert!(Arc::ptr_eq(&ctx, &CallContext::current().unwrap()));
                        ctx
                    })
                })
        };
        let (a, b) = (in_parent("s1"), in_parent("s2"));
        assert_eq!(a.call_path(), ["parent", "leaf"]);
        assert_eq!(a.tags(), ["shared", "l"]);
        assert_eq!(a.metadata().get("k"), Some(&serde_json::json!(1)));
        assert_eq!(a.session().map(|s| &**s), Some("s1"));
        assert_eq!(b.session().map(|s| &**s), Some("s2"), "a parent's context is not reused");
        // Outermost again: the static's own context, not the nested one.
        assert_eq!(LEAF.in_scope(|| CallContext::current().unwrap()).call_path(), ["leaf"]);
    }

    #[test]
    fn a_static_scope_instruments_futures() {
        static TASK: StaticScope = StaticScope::new("task", "m", &[]);
        let fut = TASK.instrument(async {
            YieldOnce(false).await;
            current_name()
        });
        assert_eq!(block_on(fut).as_deref(), Some("task"));
        assert!(CallContext::current().is_none());
    }

    #[test]
    fn a_static_entry_is_one_word_and_a_futures_frame_two() {
        // Entering a static scope writes one slot on every annotated call and every poll.
        assert_eq!(
            std::mem::size_of::<Option<&'static StaticScope>>(),
            std::mem::size_of::<usize>()
        );
        // And a future carries two words for its scope.
        assert_eq!(std::mem::size_of::<Option<Frame>>(), 2 * std::mem::size_of::<usize>());
    }

    /// Entries on this thread: (depth, entries kept in `Slow`).
    fn stack_sizes() -> (usize, usize) {
        (FAST.with(|f| f.len.get()), SLOW.with(|s| s.borrow().frames.len()))
    }

    static A: StaticScope = StaticScope::new("a", "m", &["ta"]);
    static B: StaticScope = StaticScope::new("b", "m", &["tb"]);
    static C: StaticScope = StaticScope::new("c", "m", &["tc"]);

    #[test]
    fn static_scopes_keep_contexts_built_in_them_until_they_are_left() {
        A.in_scope(|| {
            B.in_scope(|| {
                C.in_scope(|| {
                    let c = CallContext::current().unwrap();
                    assert_eq!(c.call_path(), ["a", "b", "c"]);
                    assert_eq!(c.tags(), ["ta", "tb", "tc"]);
                    assert!(Arc::ptr_eq(&c, &CallContext::current().unwrap()));
                    // c's and b's contexts are kept; a's is the program-wide root context.
                    assert_eq!(stack_sizes(), (3, 2));
                });
                assert_eq!(stack_sizes(), (2, 1));
                let b = CallContext::current().unwrap();
                assert_eq!(b.call_path(), ["a", "b"]);
                assert!(Arc::ptr_eq(&b, &CallContext::current().unwrap()));
                // Entered again: a new entry, built anew.
                let again = C.in_scope(|| CallContext::current().unwrap());
                assert_eq!(again.call_path(), ["a", "b", "c"]);
            });
            assert_eq!(stack_sizes(), (1, 0));
            assert_eq!(CallContext::current().unwrap().call_path(), ["a"]);
        });
        assert_eq!(stack_sizes(), (0, 0));
    }

    #[test]
    fn static_and_runtime_scopes_interleave() {
        A.in_scope(|| {
            Scope::new("rt", "m", &["tr"]).with_session("s1").in_scope(|| {
                B.in_scope(|| {
                    let b = CallContext::current().unwrap();
                    assert_eq!(b.call_path(), ["a", "rt", "b"]);
                    assert_eq!(b.tags(), ["ta", "tr", "tb"]);
                    assert_eq!(b.session().map(|s| &**s), Some("s1"));
                });
                assert_eq!(current_name().as_deref(), Some("rt"));
            });
            assert_eq!(current_name().as_deref(), Some("a"));
        });
        assert_eq!(stack_sizes(), (0, 0));
    }

    #[test]
    fn scopes_nested_deeper_than_the_fast_stack() {
        static R: StaticScope = StaticScope::new("r", "m", &[]);
        fn recurse(level: usize, deepest: usize) -> Vec<usize> {
            let _guard = R.enter();
            let mut lengths = vec![CallContext::current().unwrap().call_path().len()];
            if level < deepest {
                lengths.extend(recurse(level + 1, deepest));
                // Back from deeper entries: this entry's context is still its own.
                lengths.push(CallContext::current().unwrap().call_path().len());
            }
            lengths
        }
        let deepest = FAST_DEPTH + 8;
        let lengths = recurse(1, deepest);
        let down: Vec<usize> = (1..=deepest).collect();
        let up: Vec<usize> = (1..deepest).rev().collect();
        assert_eq!(lengths, [down, up].concat());
        assert_eq!(stack_sizes(), (0, 0));
    }

    #[test]
    fn a_future_keeps_the_context_built_in_it_across_polls_and_other_tasks() {
        let make = |scope: &'static StaticScope| {
            A.instrument(scope.instrument(async move {
                let mut seen = Vec::new();
                for _ in 0..3 {
                    seen.push(CallContext::current().unwrap());
                    YieldOnce(false).await;
                }
                seen
            }))
        };
        let (mut b, mut c) = (std::pin::pin!(make(&B)), std::pin::pin!(make(&C)));
        let mut cx = TaskContext::from_waker(Waker::noop());
        let (mut rb, mut rc) = (None, None);
        while rb.is_none() || rc.is_none() {
            if let (None, Poll::Ready(v)) = (&rb, b.as_mut().poll(&mut cx)) {
                rb = Some(v);
            }
            assert_eq!(stack_sizes(), (0, 0), "left between polls");
            if let (None, Poll::Ready(v)) = (&rc, c.as_mut().poll(&mut cx)) {
                rc = Some(v);
            }
        }
        for (seen, path) in [(rb.unwrap(), ["a", "b"]), (rc.unwrap(), ["a", "c"])] {
            assert_eq!(seen[0].call_path(), path);
            assert!(seen.iter().all(|ctx| Arc::ptr_eq(ctx, &seen[0])), "built once: {path:?}");
        }
    }

    #[test]
    fn a_future_drops_its_frame_with_it() {
        let captured = Scope::new("c", "m", &[]).in_scope(|| CallContext::current().unwrap());
        block_on(Scope::from_context(captured.clone()).instrument(async {}));
        let mut pending =
            Box::pin(Scope::from_context(captured.clone()).instrument(YieldOnce(false)));
        assert!(pending.as_mut().poll(&mut TaskContext::from_waker(Waker::noop())).is_pending());
        drop(pending);
        drop(Scope::from_context(captured.clone()).instrument(async {}));
        assert_eq!(Arc::strong_count(&captured), 1);

        // A context built in a static scope's entry is the future's to drop too.
        let built = block_on(A.instrument(B.instrument(async { CallContext::current().unwrap() })));
        assert_eq!(built.call_path(), ["a", "b"]);
        assert_eq!(Arc::strong_count(&built), 1);
    }

    /// Random sequences of entering and leaving static, runtime and captured scopes (past
    /// the fast stack's depth, with guards leaked on the way), against a model of the stack:
    /// whenever asked, the current context's call path is what the model says, whichever
    /// stack each entry lives in and whether its context was built before.
    #[test]
    fn random_scope_sequences_match_a_model_stack() {
        static STATICS: [StaticScope; 3] = [
            StaticScope::new("s0", "m", &[]),
            StaticScope::new("s1", "m", &[]),
            StaticScope::new("s2", "m", &[]),
        ];
        #[derive(Clone, Debug)]
        enum Entry {
            Named(String),
            Captured(Vec<String>),
        }
        fn path(model: &[Entry]) -> Option<Vec<String>> {
            let (top, below) = model.split_last()?;
            Some(match top {
                Entry::Captured(p) => p.clone(),
                Entry::Named(n) => {
                    let mut p = path(below).unwrap_or_default();
                    p.push(n.clone());
                    p
                }
            })
        }
        let names = |ctx: &CallContext| ctx.call_path().iter().map(|n| n.to_string()).collect();
        let mut rng = fastrand::Rng::with_seed(7);
        for round in 0..1000 {
            let mut model: Vec<Entry> = Vec::new();
            // The guards, with the model's depth each restores; `None` for a leaked one.
            let mut guards: Vec<(usize, Option<ScopeGuard>)> = Vec::new();
            for step in 0..80 {
                let depth = model.len();
                match rng.u8(0..10) {
                    0..=3 if depth < 45 => {
                        let i = rng.usize(0..STATICS.len());
                        guards.push((depth, Some(STATICS[i].enter())));
                        model.push(Entry::Named(format!("s{i}")));
                    }
                    4 if depth < 45 => {
                        let name = format!("r{step}");
                        guards.push((depth, Some(Scope::new(name.clone(), "m", &[]).enter())));
                        model.push(Entry::Named(name));
                    }
                    5 if depth < 45 => {
                        let captured = Arc::new(CallContext::child_of(
                            None,
                            StaticScope::new("cap", "m", &[]).view(),
                        ));
                        guards.push((depth, Some(Scope::from_context(captured).enter())));
                        model.push(Entry::Captured(vec!["cap".into()]));
                    }
                    6 if !guards.is_empty() => {
                        // Leaked: its entry stays until a guard below it is dropped.
                        if let Some((_, guard)) = guards.last_mut() {
                            std::mem::forget(guard.take());
                        }
                    }
                    7 => {
                        // A future polled here sees one more scope.
                        let i = rng.usize(0..STATICS.len());
                        let seen = block_on(
                            STATICS[i]
                                .instrument(async { CallContext::current().map(|c| names(&c)) }),
                        );
                        let mut expected = model.clone();
                        expected.push(Entry::Named(format!("s{i}")));
                        assert_eq!(seen, path(&expected), "round {round} step {step}");
                    }
                    _ => {
                        // Leave: drop the innermost guard still held.
                        while let Some((restores, guard)) = guards.pop() {
                            if let Some(guard) = guard {
                                drop(guard);
                                model.truncate(restores);
                                break;
                            }
                        }
                    }
                }
                // Not after every step: entries are built (and moved) when asked for, so
                // whole runs of entries must go unasked too.
                if rng.u8(0..3) == 0 {
                    let seen = CallContext::current().map(|c| names(&c));
                    assert_eq!(seen, path(&model), "round {round} step {step}: {model:?}");
                }
            }
            // Leave everything (a leaked guard's entry goes with the guard below it).
            while let Some((restores, guard)) = guards.pop() {
                if let Some(guard) = guard {
                    drop(guard);
                    model.truncate(restores);
                }
            }
            if model.is_empty() {
                assert_eq!(stack_sizes(), (0, 0), "round {round}");
            } else {
                // Only leaked entries at the bottom are left: clear them for the next round.
                drop(ScopeGuard { depth: 0, _not_send: PhantomData });
                assert_eq!(stack_sizes(), (0, 0), "round {round}");
            }
        }
    }

    #[test]
    fn a_leaked_guard_is_cleared_by_the_guard_below_it() {
        A.in_scope(|| {
            std::mem::forget(Scope::new("leaked", "m", &[]).enter());
            std::mem::forget(B.enter());
            assert_eq!(current_name().as_deref(), Some("b"));
            assert_eq!(stack_sizes(), (3, 2));
        });
        assert_eq!(stack_sizes(), (0, 0));
        assert!(CallContext::current().is_none());
    }

    #[test]
    fn a_panic_does_not_leave_a_stale_context() {
        let result = std::panic::catch_unwind(|| {
            Scope::new("doomed", "m", &[]).in_scope(|| panic!("boom"));
        });
        assert!(result.is_err());
        assert!(CallContext::current().is_none());
    }

    #[test]
    fn a_panicking_poll_does_not_leave_a_stale_context() {
        let result = std::panic::catch_unwind(|| {
            block_on(Scope::new("doomed", "m", &[]).instrument(async { panic!("boom") }))
        });
        assert!(result.is_err());
        assert!(CallContext::current().is_none());
    }

    #[test]
    fn async_context_survives_await_and_is_left_between_polls() {
        let fut = Scope::new("task", "m", &[]).instrument(async {
            assert_eq!(current_name().as_deref(), Some("task"));
            YieldOnce(false).await;
            current_name()
        });
        let mut fut = std::pin::pin!(fut);
        let mut cx = TaskContext::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert!(CallContext::current().is_none(), "context leaked out of a pending poll");
        assert_eq!(fut.as_mut().poll(&mut cx), Poll::Ready(Some("task".to_owned())));
    }

    #[test]
    fn interleaved_futures_never_see_each_other() {
        let make = |name: &'static str| {
            Scope::new(name, "m", &[]).instrument(async move {
                let mut seen = Vec::new();
                for _ in 0..3 {
                    seen.push(current_name().unwrap());
                    YieldOnce(false).await;
                }
                seen
            })
        };
        let (mut a, mut b) = (std::pin::pin!(make("a")), std::pin::pin!(make("b")));
        let mut cx = TaskContext::from_waker(Waker::noop());
        let (mut ra, mut rb) = (None, None);
        while ra.is_none() || rb.is_none() {
            if ra.is_none() {
                if let Poll::Ready(v) = a.as_mut().poll(&mut cx) {
                    ra = Some(v);
                }
            }
            if rb.is_none() {
                if let Poll::Ready(v) = b.as_mut().poll(&mut cx) {
                    rb = Some(v);
                }
            }
        }
        assert_eq!(ra.unwrap(), ["a", "a", "a"]);
        assert_eq!(rb.unwrap(), ["b", "b", "b"]);
    }

    #[test]
    fn nested_async_scopes_build_the_call_path() {
        let path = block_on(Scope::new("outer", "m", &["o"]).instrument(async {
            Scope::new("inner", "m", &["i"])
                .instrument(async {
                    YieldOnce(false).await;
                    let ctx = CallContext::current().unwrap();
                    (ctx.call_path().to_vec(), ctx.tags().to_vec())
                })
                .await
        }));
        assert_eq!(path.0, ["outer", "inner"]);
        assert_eq!(path.1, ["o", "i"]);
    }

    #[test]
    fn dropping_a_future_runs_its_destructors_inside_the_scope() {
        struct ReportOnDrop(std::sync::mpsc::Sender<Option<String>>);
        impl Drop for ReportOnDrop {
            fn drop(&mut self) {
                let _ = self.0.send(current_name());
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let fut = Scope::new("cancelled", "m", &[]).instrument(async move {
            let _report = ReportOnDrop(tx);
            YieldOnce(false).await;
        });
        let mut fut = Box::pin(fut);
        let mut cx = TaskContext::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        drop(fut);
        assert_eq!(rx.recv().unwrap().as_deref(), Some("cancelled"));
        assert!(CallContext::current().is_none());
    }

    #[test]
    fn spawned_threads_inherit_only_with_the_helper() {
        Scope::new("parent", "m", &[]).in_scope(|| {
            let with = spawn_thread(current_name).join().unwrap();
            let without = std::thread::spawn(current_name).join().unwrap();
            assert_eq!(with.as_deref(), Some("parent"));
            assert_eq!(without, None);
        });
    }

    #[test]
    fn captured_context_is_the_parent_of_scopes_entered_under_it() {
        let captured = Scope::new("root", "m", &["r"]).in_scope(|| CallContext::current().unwrap());
        Scope::from_context(captured).in_scope(|| {
            Scope::new("leaf", "m", &["l"]).in_scope(|| {
                let ctx = CallContext::current().unwrap();
                assert_eq!(ctx.call_path(), ["root", "leaf"]);
                assert_eq!(ctx.tags(), ["r", "l"]);
            })
        });
    }

    fn path() -> Vec<String> {
        CallContext::current()
            .map(|c| c.call_path().iter().map(|n| n.to_string()).collect())
            .unwrap_or_default()
    }

    fn slow_frames() -> usize {
        SLOW.with(|slow| slow.borrow().frames.len())
    }

    static FN_A: StaticScope = StaticScope::new("fn_a", "m", &[]);
    static FN_B: StaticScope = StaticScope::new("fn_b", "m", &[]);
    static FN_C: StaticScope = StaticScope::new("fn_c", "m", &[]);

    #[test]
    fn what_a_fn_guard_leaves_behind_is_never_taken_for_a_later_entry() {
        let _a = FN_A.enter_in_fn();
        {
            let _b = FN_B.enter_in_fn();
            // Builds a context for fn_b: its frame moves to `Slow`, where its guard leaves it.
            assert_eq!(path(), ["fn_a", "fn_b"]);
        }
        assert_eq!(path(), ["fn_a"]);
        // The same depth, another static scope: the leftover is fn_b's, not this entry's.
        {
            let _c = FN_C.enter_in_fn();
            assert_eq!(path(), ["fn_a", "fn_c"]);
        }
        // And a runtime scope there.
        Scope::new("runtime", "m", &[]).in_scope(|| assert_eq!(path(), ["fn_a", "runtime"]));
        {
            let _b = FN_B.enter_in_fn();
            assert_eq!(path(), ["fn_a", "fn_b"]);
        }
        assert_eq!(path(), ["fn_a"]);
    }

    #[test]
    fn a_fn_guard_inside_a_runtime_scope_leaves_it_intact() {
        Scope::new("outer", "m", &[]).with_metadata("k", 1).in_scope(|| {
            {
                let _b = FN_B.enter_in_fn();
                assert_eq!(path(), ["outer", "fn_b"]);
            }
            let ctx = CallContext::current().unwrap();
            assert_eq!(ctx.call_path(), ["outer"]);
            assert_eq!(ctx.metadata().get("k"), Some(&serde_json::json!(1)));
        });
        assert!(CallContext::current().is_none());
    }

    #[test]
    fn a_fn_guard_ends_what_was_leaked_inside_it_and_leftovers_stay_bounded() {
        for _ in 0..1_000 {
            {
                let _a = FN_A.enter_in_fn();
                let _b = FN_B.enter_in_fn();
                assert_eq!(path(), ["fn_a", "fn_b"]);
                std::mem::forget(Scope::new("leaked", "m", &[]).enter());
                assert_eq!(path(), ["fn_a", "fn_b", "leaked"]);
            }
            assert!(CallContext::current().is_none());
            Scope::new("next", "m", &[]).in_scope(|| assert_eq!(path(), ["next"]));
        }
        // One entry per depth at most, however many ran.
        assert!(slow_frames() <= 3, "{}", slow_frames());
    }

    #[test]
    fn fn_guards_deeper_than_the_slots_keep_the_whole_path() {
        const DEPTH: usize = FAST_DEPTH + 8;
        let scopes: Vec<&'static StaticScope> = (0..DEPTH)
            .map(|i| {
                &*Box::leak(Box::new(StaticScope::new(
                    Box::leak(format!("f{i}").into_boxed_str()),
                    "m",
                    &[],
                )))
            })
            .collect();
        for round in 0..3 {
            let guards: Vec<FnGuard> = scopes.iter().map(|s| s.enter_in_fn()).collect();
            let expected: Vec<String> = (0..DEPTH).map(|i| format!("f{i}")).collect();
            assert_eq!(path(), expected, "round {round}");
            // Leave them innermost first, as fns return.
            for guard in guards.into_iter().rev() {
                drop(guard);
            }
            assert!(CallContext::current().is_none());
        }
    }

    /// What `#[traced_llm]` declares in an async fn for its `InFn`.
    macro_rules! fn_scope {
        ($name:ident, $scope:ident) => {
            struct $name;
            impl FnScope for $name {
                fn scope() -> &'static StaticScope {
                    &$scope
                }
            }
        };
    }
    fn_scope!(InA, FN_A);
    fn_scope!(InB, FN_B);
    fn_scope!(InC, FN_C);

    /// `#[traced_llm]` on an async fn: its body in `InFn` over the fn's static scope.
    #[test]
    fn async_fn_bodies_see_their_path_on_every_poll_and_leave_it_between_polls() {
        // Two bodies nested in fn_a, interleaved on one thread, each building its context
        // (as a recorded call does) on every poll.
        fn make<S: FnScope>() -> impl Future<Output = Vec<Vec<String>>> {
            InFn::<InA, _>::new(InFn::<S, _>::new(async move {
                let mut seen = Vec::new();
                for _ in 0..3 {
                    seen.push(path());
                    YieldOnce(false).await;
                }
                seen
            }))
        }
        let (mut b, mut c) = (std::pin::pin!(make::<InB>()), std::pin::pin!(make::<InC>()));
        let mut cx = TaskContext::from_waker(Waker::noop());
        let (mut rb, mut rc) = (None, None);
        while rb.is_none() || rc.is_none() {
            if let (None, Poll::Ready(v)) = (&rb, b.as_mut().poll(&mut cx)) {
                rb = Some(v);
            }
            assert!(CallContext::current().is_none(), "left between polls");
            if let (None, Poll::Ready(v)) = (&rc, c.as_mut().poll(&mut cx)) {
                rc = Some(v);
            }
            assert!(CallContext::current().is_none(), "left between polls");
        }
        assert_eq!(rb.unwrap(), [["fn_a", "fn_b"]; 3]);
        assert_eq!(rc.unwrap(), [["fn_a", "fn_c"]; 3]);
        // What the polls left in `Slow` never shows.
        let _a = FN_A.enter_in_fn();
        assert_eq!(path(), ["fn_a"]);
    }

    #[test]
    fn a_cancelled_async_fn_body_is_dropped_inside_its_scope() {
        struct ReportOnDrop(std::sync::mpsc::Sender<Vec<String>>);
        impl Drop for ReportOnDrop {
            fn drop(&mut self) {
                let _ = self.0.send(path());
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let _a = FN_A.enter_in_fn();
        let mut fut = Box::pin(InFn::<InB, _>::new(async move {
            let _report = ReportOnDrop(tx);
            YieldOnce(false).await;
        }));
        assert!(fut.as_mut().poll(&mut TaskContext::from_waker(Waker::noop())).is_pending());
        drop(fut);
        assert_eq!(rx.recv().unwrap(), ["fn_a", "fn_b"]);
        assert_eq!(path(), ["fn_a"]);
        // What a finished body captured and still holds is dropped inside the scope too.
        let (tx, rx) = std::sync::mpsc::channel();
        let report = ReportOnDrop(tx);
        block_on(InFn::<InC, _>::new(async move {
            let _held = &report;
        }));
        assert_eq!(rx.recv().unwrap(), ["fn_a", "fn_c"]);
        assert_eq!(path(), ["fn_a"]);
        // Dropped unpolled: its arguments too.
        let (tx, rx) = std::sync::mpsc::channel();
        let report = ReportOnDrop(tx);
        drop(InFn::<InB, _>::new(async move {
            let _held = &report;
        }));
        assert_eq!(rx.recv().unwrap(), ["fn_a", "fn_b"]);
        assert_eq!(path(), ["fn_a"]);
    }

    #[test]
    fn async_fn_bodies_deeper_than_the_slots_or_over_a_leak_leave_the_stack_as_it_was() {
        let _a = FN_A.enter_in_fn();
        // A guard leaked in a poll: the poll still ends with the stack as it began.
        let seen = block_on(InFn::<InB, _>::new(async {
            std::mem::forget(Scope::new("leaked", "m", &[]).enter());
            let first = path();
            YieldOnce(false).await;
            (first, path())
        }));
        assert_eq!(seen.0, ["fn_a", "fn_b", "leaked"]);
        assert_eq!(seen.1, ["fn_a", "fn_b"]);
        assert_eq!(path(), ["fn_a"]);
        // Past the slots (fn_a and as many more), the entry lives in `Slow` for the poll.
        let deep: Vec<FnGuard> = (0..FAST_DEPTH).map(|_| FN_A.enter_in_fn()).collect();
        let seen = block_on(InFn::<InC, _>::new(async {
            YieldOnce(false).await;
            path()
        }));
        let mut expected = vec!["fn_a"; FAST_DEPTH + 1];
        assert_eq!(path(), expected);
        expected.push("fn_c");
        assert_eq!(seen, expected);
        deep.into_iter().rev().for_each(drop);
        assert_eq!(path(), ["fn_a"]);
    }

    #[test]
    fn a_panicking_async_fn_body_does_not_leave_a_stale_context() {
        let result =
            std::panic::catch_unwind(|| block_on(InFn::<InA, _>::new(async { panic!("boom") })));
        assert!(result.is_err());
        assert!(CallContext::current().is_none());
    }

    #[test]
    fn a_future_never_gets_back_a_leftover_as_its_frame() {
        let _a = FN_A.enter_in_fn();
        {
            let _b = FN_B.enter_in_fn();
            assert_eq!(path(), ["fn_a", "fn_b"]); // fn_b's built frame, left at depth 1
        }
        let seen = block_on(FN_C.instrument(async {
            // Leaving this poll cannot take the usual way (a leaked entry is above it): it
            // looks in `Slow` at its depth, where fn_b's leftover is.
            std::mem::forget(Scope::new("leaked", "m", &[]).enter());
            YieldOnce(false).await;
            path()
        }));
        assert_eq!(seen, ["fn_a", "fn_c"]);
        assert_eq!(path(), ["fn_a"]);
    }

    #[test]
    fn a_runtime_scope_entered_over_a_leftover_gets_its_own_frame_back() {
        let _a = FN_A.enter_in_fn();
        {
            let _b = FN_B.enter_in_fn();
            assert_eq!(path(), ["fn_a", "fn_b"]); // fn_b's built frame, left at depth 1
        }
        // A runtime scope's frame goes to `Slow` at depth 1 on every poll and comes back to
        // the future after it: its own, not fn_b's leftover.
        let seen = block_on(Scope::new("task", "m", &[]).instrument(async {
            let first = path();
            YieldOnce(false).await;
            (first, path())
        }));
        assert_eq!(seen.0, ["fn_a", "task"]);
        assert_eq!(seen.1, ["fn_a", "task"]);
        assert_eq!(path(), ["fn_a"]);
    }
}
